package lib_test

import data.fixtures_test as f
import data.lib

# A session: tests for api failed then passed; a deploy was denied; tests for web failed.
session := [
	f.entry(1, "run_tests", {"service": "api"}, "error"),
	f.entry(2, "run_tests", {"service": "api"}, "success"),
	f.entry(3, "deploy_to_production", {"service": "api"}, "denied"),
	f.entry(4, "run_tests", {"service": "web"}, "error"),
	f.entry_with_result(5, "fraud_check", {"payment_id": "p-1", "amount": 10}, "success", {"risk_score": 0.1}),
	f.entry_with_result(6, "fraud_check", {"payment_id": "p-1", "amount": 10}, "success", {"risk_score": 0.9}),
	f.entry_with_result(7, "fraud_check", {"payment_id": "p-1", "amount": 10}, "error", "timeout"),
	f.entry(8, "read_secret", {"name": "db"}, "success"),
]

in_session := f.call("echo", {}, session)

test_history_defaults_to_empty if {
	lib.history == [] with input as {}
}

test_stats_of_unknown_tool_is_empty if {
	lib.stats("nope") == {} with input as in_session
	lib.stats("nope") == {} with input as {}
}

test_attempted if {
	lib.attempted("deploy_to_production") with input as in_session
	not lib.attempted("delete_database") with input as in_session
}

test_called_counts_only_runs if {
	lib.called("run_tests") with input as in_session
	not lib.called("deploy_to_production") with input as in_session
	not lib.called("delete_database") with input as in_session
}

test_succeeded_follows_the_latest_run if {
	# run_tests: error(1), success(2), error(4): the latest run failed.
	not lib.succeeded("run_tests") with input as in_session
	lib.succeeded("read_secret") with input as in_session
	not lib.succeeded("deploy_to_production") with input as in_session
	lib.succeeded("run_tests") with input as f.call("x", {}, array.slice(session, 0, 3))
}

test_ever_succeeded if {
	lib.ever_succeeded("run_tests") with input as in_session
	not lib.ever_succeeded("deploy_to_production") with input as in_session
}

test_last_run_outcome if {
	lib.last_run_outcome("run_tests") == "error" with input as in_session
	lib.last_run_outcome("read_secret") == "success" with input as in_session
	not lib.last_run_outcome("deploy_to_production") with input as in_session
}

test_last_outcome_includes_denied if {
	lib.last_outcome("deploy_to_production") == "denied" with input as in_session
	not lib.last_outcome("delete_database") with input as in_session
}

test_runs if {
	lib.runs("run_tests") == 3 with input as in_session
	lib.runs("deploy_to_production") == 0 with input as in_session
	lib.runs("nope") == 0 with input as in_session
}

test_matches if {
	lib.matches({"a": 1, "b": "x"}, {"a": 1})
	lib.matches({"a": 1}, {})
	lib.matches({"a": false}, {"a": false})
	not lib.matches({"a": 1}, {"a": 2})
	not lib.matches({"a": 1}, {"b": 1})
	not lib.matches({"a": "1"}, {"a": 1})
	not lib.matches("a=1", {"a": 1})
}

test_runs_with if {
	[e.seq | some e in lib.runs_with("run_tests", {"service": "api"})] == [1, 2] with input as in_session
	lib.runs_with("deploy_to_production", {}) == [] with input as in_session
}

test_runs_with_tolerates_entries_without_arguments if {
	lib.runs_with("t", {}) == [{"name": "t", "outcome": "success"}] with input as {"history": [{"name": "t", "outcome": "success"}]}
}

test_last_run_with if {
	lib.last_run_with("run_tests", {"service": "api"}).seq == 2 with input as in_session
	lib.last_run_with("run_tests", {}).seq == 4 with input as in_session
	not lib.last_run_with("run_tests", {"service": "db"}) with input as in_session
}

test_called_with if {
	lib.called_with("run_tests", {"service": "web"}) with input as in_session
	not lib.called_with("run_tests", {"service": "db"}) with input as in_session
}

test_succeeded_with_is_correlated if {
	lib.succeeded_with("run_tests", {"service": "api"}) with input as in_session
	not lib.succeeded_with("run_tests", {"service": "web"}) with input as in_session
	not lib.succeeded_with("fraud_check", {"payment_id": "p-1"}) with input as in_session
	not lib.succeeded_with("run_tests", {"service": "db"}) with input as in_session
}

test_last_result_with_reads_the_latest_success if {
	lib.last_result_with("fraud_check", {"payment_id": "p-1"}).risk_score == 0.9 with input as in_session
	not lib.last_result_with("fraud_check", {"payment_id": "p-2"}) with input as in_session
	not lib.last_result_with("run_tests", {"service": "web"}) with input as in_session
}

test_called_before if {
	lib.called_before("run_tests", "read_secret") with input as in_session
	not lib.called_before("read_secret", "run_tests") with input as in_session
	not lib.called_before("run_tests", "deploy_to_production") with input as in_session
	not lib.called_before("delete_database", "run_tests") with input as in_session
}

test_calls_within_counts_runs_in_the_window if {
	# at_ms of entry n is start + n s; now is start + 300 s.
	lib.calls_within("run_tests", 300000) == 3 with input as in_session
	lib.calls_within("run_tests", 299000) == 2 with input as in_session
	lib.calls_within("run_tests", 297000) == 1 with input as in_session
	lib.calls_within("deploy_to_production", 300000) == 0 with input as in_session
}

test_forbidden_after if {
	lib.forbidden_after("read_secret", "http_post") with input as f.call("http_post", {}, session)
	not lib.forbidden_after("read_secret", "http_post") with input as f.call("send_email", {}, session)
	not lib.forbidden_after("read_secret", "http_post") with input as f.call("http_post", {}, [])
}

# --- history scopes -------------------------------------------------------------------------

# The same subject in three scopes: the session's tests failed, the principal's and everyone's
# latest passed; a secret was read in this trace; one call has no scope (a session entry).
scoped_history := [
	f.scoped(f.entry(1, "run_tests", {"service": "api"}, "error"), "session"),
	f.scoped(f.entry_with_result(2, "run_tests", {"service": "api"}, "success", {"ok": 1}), "global"),
	f.scoped(f.entry_with_result(2, "run_tests", {"service": "api"}, "success", {"ok": 1}), "principal"),
	f.scoped(f.entry(3, "read_secret", {}, "success"), "trace"),
	f.scoped(f.entry(4, "read_secret", {}, "denied"), "global"),
	f.scoped(f.entry(5, "pay", {}, "error"), "global"),
	f.entry(6, "pay", {}, "success"),
]

in_scoped := f.call("echo", {}, scoped_history)

test_scopes_are_the_four if {
	lib.scopes == {"session", "trace", "principal", "global"}
}

test_entry_without_scope_is_a_session_entry if {
	lib.entry_scope({"name": "x"}) == "session"
	lib.entry_scope({"name": "x", "scope": "trace"}) == "trace"
	[e.seq | some e in lib.in_scope("session")] == [1, 6] with input as in_scoped
	[e.seq | some e in lib.in_scope("global")] == [2, 4, 5] with input as in_scoped
	lib.in_scope("trace") == [scoped_history[3]] with input as in_scoped
	lib.in_scope("global") == [] with input as {}
}

test_readable_scope_falls_back_to_the_session_only_without_any_scope if {
	# A history that carries scopes is read as it is, even where one entry lacks its scope.
	lib.readable_scope("global") == "global" with input as in_scoped
	not lib.unscoped_history with input as in_scoped

	# A host from before scopes: its history is the session's window, so every scope reads it.
	lib.readable_scope("global") == "session" with input as in_session
	lib.unscoped_history with input as in_session

	# No history at all: nothing to fall back to; the scope asked for is read (and is empty).
	lib.readable_scope("trace") == "trace" with input as f.call("echo", {}, [])
	not lib.unscoped_history with input as f.call("echo", {}, [])
}

test_last_run_in_reads_one_scope if {
	lib.last_run_in("session", "run_tests", {"service": "api"}).outcome == "error" with input as in_scoped
	lib.last_run_in("global", "run_tests", {"service": "api"}).outcome == "success" with input as in_scoped
	lib.last_run_in("principal", "run_tests", {}).seq == 2 with input as in_scoped
	not lib.last_run_in("trace", "run_tests", {}) with input as in_scoped
	not lib.last_run_in("global", "run_tests", {"service": "web"}) with input as in_scoped

	# The helpers without a scope read every entry: the newest run_tests is seq 2, in two scopes.
	lib.last_run_with("run_tests", {"service": "api"}).seq == 2 with input as in_scoped
	count(lib.runs_with("run_tests", {})) == 3 with input as in_scoped
	count(lib.runs_in("global", "run_tests", {})) == 1 with input as in_scoped
}

test_last_result_in_reads_one_scope if {
	lib.last_result_in("global", "run_tests", {"service": "api"}) == {"ok": 1} with input as in_scoped
	not lib.last_result_in("session", "run_tests", {"service": "api"}) with input as in_scoped
}

test_called_and_ever_succeeded_in_read_one_scope if {
	lib.called_in("trace", "read_secret") with input as in_scoped
	not lib.called_in("global", "read_secret") with input as in_scoped
	not lib.called_in("session", "read_secret") with input as in_scoped
	lib.ever_succeeded_in("trace", "read_secret") with input as in_scoped
	not lib.ever_succeeded_in("global", "read_secret") with input as in_scoped
	lib.called_in("global", "pay") with input as in_scoped
	not lib.ever_succeeded_in("global", "pay") with input as in_scoped
	lib.ever_succeeded_in("session", "pay") with input as in_scoped
}

test_calls_within_in_counts_one_scope if {
	lib.calls_within_in("global", "pay", 300000) == 1 with input as in_scoped
	lib.calls_within_in("session", "pay", 300000) == 1 with input as in_scoped
	lib.calls_within_in("trace", "pay", 300000) == 0 with input as in_scoped
	lib.calls_within("pay", 300000) == 2 with input as in_scoped
}

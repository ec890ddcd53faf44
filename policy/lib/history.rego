# Helpers that read past calls, so rules read like the workflow they guard.
#
# Vocabulary used below:
#   attempted: the client asked for the call, whatever the decision (summary.calls).
#   ran:       the call was allowed and reached the server (outcome success or error).
#   succeeded: the call ran and did not report an error.
#   pattern:   an object of argument values; an entry matches when every key/value of the
#              pattern equals the entry's argument (extra arguments are ignored; {} matches all).
#   scope:     which calls a history entry was drawn from (entry.scope): "session" (this MCP
#              session), "trace" (this agent run), "principal" (this subject's calls) or "global"
#              (everyone's, per tenant). An entry without scope is a session entry.
#
# What input.history holds: when the policy declares the history it reads (data.mcp.history.reads,
# policy/mcp/history/), only the entries those reads return for the current call, each tagged with
# its scope (a call drawn from two scopes appears twice); otherwise the session's last calls. The
# helpers that take no scope read every entry, whatever its scope; the *_in helpers read one scope.
#
# Cost: compiled Wasm has no rule indexing and no early exit, so every helper here is either a
# summary look-up (O(1)) or a linear pass over input.history (O(n)). Keep it that way: a rule that
# pairs history entries with each other is O(n^2) on every call. input.summary is always
# complete, and always the session's; input.history may be windowed or limited to what the policy
# declared, so the history helpers can miss old calls. Rules built on them must treat "not found"
# as "not done" (fail closed).
package lib

# history is input.history (decided calls, oldest first; see above), or [] when the host sent none.
default history := []

history := input.history

# stats(tool) is the summary record for tool, or {} when it was never called.
# Example: stats("run_tests").failures
stats(tool) := object.get(object.get(input, "summary", {}), tool, {})

# attempted(tool) holds when tool was asked for at least once, even if it was denied.
# Example: attempted("delete_database")
attempted(tool) if object.get(stats(tool), "calls", 0) > 0

# called(tool) holds when tool ran at least once (allowed), whatever its outcome.
# Example: called("read_secret")
called(tool) if {
	s := stats(tool)
	object.get(s, "calls", 0) > object.get(s, "denied", 0)
}

# succeeded(tool) holds when the most recent run of tool succeeded: a later failure closes the
# gate again, and denied attempts in between do not count as runs.
# Example: succeeded("run_tests")
succeeded(tool) if {
	s := stats(tool)
	ok := s.last_success_seq
	not object.get(s, "last_failure_seq", 0) > ok
}

# ever_succeeded(tool) holds when tool succeeded at least once, even if it failed since.
# Example: ever_succeeded("read_secret")
ever_succeeded(tool) if object.get(stats(tool), "successes", 0) > 0

# last_run_outcome(tool) is "success" or "error": how the most recent run of tool ended.
# Undefined when tool never ran.
# Example: last_run_outcome("run_tests") == "error"
last_run_outcome(tool) := "success" if {
	succeeded(tool)
} else := "error" if {
	stats(tool).last_failure_seq
}

# last_outcome(tool) is the outcome of the most recent call of tool, denied ones included:
# "success", "error" or "denied". Undefined when tool was never called.
# Example: last_outcome("deploy_to_production") == "denied"
last_outcome(tool) := stats(tool).last_outcome

# runs(tool) counts the calls of tool that were allowed to run.
# Example: runs("deploy_to_production") == 2
runs(tool) := object.get(stats(tool), "calls", 0) - object.get(stats(tool), "denied", 0)

# ran(entry) holds when a history entry was allowed and reached the server.
ran(entry) if entry.outcome != "denied"

# matches(args, pattern) holds when every key of pattern is in args with an equal value.
# Values compare by JSON type: "7" does not match 7.
# Example: matches(input.call.arguments, {"service": "api"})
matches(args, pattern) if {
	is_object(args)
	every key, value in pattern {
		args[key] == value
	}
}

# runs_with(tool, pattern) lists the history entries of tool whose arguments match pattern and
# that ran, oldest first.
# Example: count(runs_with("create_account", {"customer_id": "c-1"}))
runs_with(tool, pattern) := runs_among(history, tool, pattern)

runs_among(entries, tool, pattern) := [entry |
	some entry in entries
	entry.name == tool
	ran(entry)
	matches(object.get(entry, "arguments", {}), pattern)
]

# last_run_with(tool, pattern) is the most recent history entry of tool that ran with matching
# arguments. Undefined when there is none (in the history window).
# Example: last_run_with("fraud_check", {"payment_id": "p-1"}).outcome
last_run_with(tool, pattern) := entries[count(entries) - 1] if {
	entries := runs_with(tool, pattern)
	count(entries) > 0
}

# called_with(tool, pattern) holds when tool ran at least once with matching arguments.
# Example: called_with("backup_database", {"database": input.call.arguments.database})
called_with(tool, pattern) if last_run_with(tool, pattern)

# succeeded_with(tool, pattern) holds when the most recent run of tool with matching arguments
# succeeded (correlation: the success must be about the same subject as the current call).
# Example: succeeded_with("fraud_check", {"transaction_id": input.call.arguments.transaction_id})
succeeded_with(tool, pattern) if last_run_with(tool, pattern).outcome == "success"

# last_result_with(tool, pattern) is the result of the most recent successful run of tool with
# matching arguments: the structuredContent object when the tool returned one, else its text.
# Undefined when there is none.
# Example: last_result_with("fraud_check", {"payment_id": "p-1"}).risk_score < 0.8
last_result_with(tool, pattern) := last_result_among(runs_with(tool, pattern))

last_result_among(runs) := entries[count(entries) - 1].result if {
	entries := [entry |
		some entry in runs
		entry.outcome == "success"
	]
	count(entries) > 0
}

# called_before(a, b) holds when a ran before the most recent run of b.
# Example: called_before("backup_database", "delete_database")
called_before(a, b) if {
	first_a := min([entry.seq | some entry in history; entry.name == a; ran(entry)])
	last_b := max([entry.seq | some entry in history; entry.name == b; ran(entry)])
	first_a < last_b
}

# calls_within(tool, window_ms) counts the runs of tool in the last window_ms milliseconds
# before input.now_ms. Denied attempts do not count, so a client is not locked out by retries.
# Example: calls_within("http_post", 60000) >= 10
calls_within(tool, window_ms) := count_within(history, tool, window_ms)

count_within(entries, tool, window_ms) := count([entry |
	some entry in entries
	entry.name == tool
	ran(entry)
	entry.at_ms > input.now_ms - window_ms
])

# forbidden_after(a, b) holds when the current call is b and a already ran in this session:
# "never b after a", for dangerous combinations such as reading a secret then sending it out.
# Example: forbidden_after("read_secret", "http_post")
forbidden_after(a, b) if {
	input.call.name == b
	called(a)
}

# --- history scopes ---------------------------------------------------------------------------

# scopes: the scopes a history entry can be drawn from (and a workflow template can read).
scopes := {"session", "trace", "principal", "global"}

# scope_words: whose calls a message is about, by scope.
# Example: concat(" ", ["http_post is not allowed after read_secret", scope_words["trace"]])
scope_words := {
	"session": "in the same session",
	"trace": "in the same agent run",
	"principal": "by the same principal",
	"global": "by anyone",
}

# entry_scope(entry) is the scope entry was drawn from: "session" when it carries none (a host
# from before history scopes, or an old test fixture).
# Example: entry_scope({"name": "run_tests"}) == "session"
entry_scope(entry) := object.get(entry, "scope", "session")

# in_scope(scope) lists the history entries drawn from scope, oldest first.
# Example: count(in_scope("global"))
in_scope(scope) := [entry | some entry in history; entry_scope(entry) == scope]

# unscoped_history holds when the host sent history none of whose entries carries a scope: a
# Warden from before history scopes, whose history is always the session's window.
default unscoped_history := false

unscoped_history if {
	count(history) > 0
	every entry in history {
		not entry.scope
	}
}

# readable_scope(scope) is the scope a rule that wants scope can read in this input: scope itself,
# or "session" when the history carries no scopes at all (then it is all there is, as before).
# Example: lib.last_run_in(lib.readable_scope("global"), "run_tests", {"service": "api"})
readable_scope(scope) := "session" if {
	unscoped_history
} else := scope

# runs_in(scope, tool, pattern): runs_with, over the entries drawn from scope only.
# Example: count(runs_in("principal", "create_account", {"customer_id": "c-1"}))
runs_in(scope, tool, pattern) := runs_among(in_scope(scope), tool, pattern)

# last_run_in(scope, tool, pattern): last_run_with, over the entries drawn from scope only.
# Example: last_run_in("global", "run_tests", {"service": "api"}).outcome == "success"
last_run_in(scope, tool, pattern) := entries[count(entries) - 1] if {
	entries := runs_in(scope, tool, pattern)
	count(entries) > 0
}

# last_result_in(scope, tool, pattern): last_result_with, over the entries drawn from scope only.
# Example: last_result_in("global", "fraud_check", {"payment_id": "p-1"}).risk_score < 0.8
last_result_in(scope, tool, pattern) := last_result_among(runs_in(scope, tool, pattern))

# called_in(scope, tool) holds when tool ran at least once among the entries drawn from scope.
# Example: called_in("trace", "read_secret")
called_in(scope, tool) if last_run_in(scope, tool, {})

# ever_succeeded_in(scope, tool) holds when tool succeeded at least once among the entries drawn
# from scope.
# Example: ever_succeeded_in("trace", "read_secret")
ever_succeeded_in(scope, tool) if {
	some entry in in_scope(scope)
	entry.name == tool
	entry.outcome == "success"
}

# calls_within_in(scope, tool, window_ms): calls_within, over the entries drawn from scope only.
# Example: calls_within_in("global", "payment_processing", 60000) >= 10
calls_within_in(scope, tool, window_ms) := count_within(in_scope(scope), tool, window_ms)

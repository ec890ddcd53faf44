# History scopes in the engine: a template reads only the history entries drawn from its scope
# (an entry without scope is a session entry), and a history without any scope is read as the
# session's, as before scopes.
package mcp.workflow_test

import data.fixtures_test as f
import data.mcp.workflow

# build -> ship per id, and check -> act uncorrelated, read from everyone's calls.
global_flow := {"g": {
	"scope": "global",
	"correlate": ["id"],
	"steps": [
		{"tool": "build", "reject_if": [{"field": "ok", "op": "eq", "value": false}]},
		{"tool": "ship"},
		{"tool": "check", "correlate": []},
		{"tool": "act", "requires": ["check"], "correlate": []},
	],
	"forbidden": [{"after": ["leak"], "then": ["post"], "when": "succeed"}],
	"rate_limits": [{"tool": "post", "max": 2, "window_ms": 60000}],
}}

global_messages(name, arguments, history) := result if {
	result := {v.message | some v in workflow.violations} with input as f.call(name, arguments, history)
		with data.workflows as global_flow
}

ship_blocked := "build must succeed for id=1 before ship (workflow g)"

test_an_entry_of_another_scope_does_not_open_a_gate if {
	every scope in ["session", "trace", "principal"] {
		global_messages("ship", {"id": 1}, [
			f.scoped(f.entry_with_result(1, "build", {"id": 1}, "success", {"ok": true}), scope),
			f.scoped(f.entry(2, "zzz", {}, "success"), "global"),
		]) == {ship_blocked}
	}
}

test_an_entry_without_scope_counts_as_session if {
	# Another entry carries a scope, so the history is scoped: the bare build is the session's.
	global_messages("ship", {"id": 1}, [
		f.entry_with_result(1, "build", {"id": 1}, "success", {"ok": true}),
		f.scoped(f.entry(2, "zzz", {}, "success"), "global"),
	]) == {ship_blocked}

	# In a session template the same history opens the gate.
	session_flow := {"s": object.remove(global_flow.g, ["scope"])}
	{v.message | some v in workflow.violations} == set() with input as f.call("ship", {"id": 1}, [
		f.entry_with_result(1, "build", {"id": 1}, "success", {"ok": true}),
		f.scoped(f.entry(2, "zzz", {}, "success"), "global"),
	])
		with data.workflows as session_flow
}

test_an_entry_of_the_scope_opens_the_gate if {
	global_messages("ship", {"id": 1}, [f.scoped(f.entry_with_result(1, "build", {"id": 1}, "success", {"ok": true}), "global")]) == set()
	global_messages("ship", {"id": 2}, [f.scoped(f.entry_with_result(1, "build", {"id": 1}, "success", {"ok": true}), "global")]) == {"build must succeed for id=2 before ship (workflow g)"}
}

test_the_latest_run_of_the_scope_counts if {
	history := [
		f.scoped(f.entry_with_result(1, "build", {"id": 1}, "success", {"ok": true}), "global"),
		f.scoped(f.entry_with_result(1, "build", {"id": 1}, "success", {"ok": true}), "session"),
		f.scoped(f.entry(2, "build", {"id": 1}, "error"), "global"),
	]
	global_messages("ship", {"id": 1}, history) == {"build must succeed for id=1 before ship; its last run failed (workflow g)"}
}

test_a_history_without_scopes_is_read_as_the_session if {
	# A Warden from before scopes sends the session's window: the template reads it as before.
	global_messages("ship", {"id": 1}, [f.entry_with_result(1, "build", {"id": 1}, "success", {"ok": true})]) == set()
	global_messages("ship", {"id": 1}, []) == {ship_blocked}
}

test_reject_if_reads_the_result_of_the_scope if {
	history := [
		f.scoped(f.entry_with_result(1, "build", {"id": 1}, "success", {"ok": true}), "session"),
		f.scoped(f.entry_with_result(2, "build", {"id": 1}, "success", {"ok": false}), "global"),
	]
	global_messages("ship", {"id": 1}, history) == {"ship blocked: build for id=1 returned ok false (blocked when ok = false) (workflow g)"}
}

test_an_uncorrelated_gate_of_another_scope_reads_its_history_not_the_summary if {
	# The summary (the session's) says check succeeded; everyone's latest check failed.
	history := [
		f.scoped(f.entry(1, "check", {}, "success"), "session"),
		f.scoped(f.entry(2, "check", {}, "error"), "global"),
	]
	global_messages("act", {}, history) == {"check must succeed before act; its last run failed (workflow g)"}
	global_messages("act", {}, [f.scoped(f.entry(1, "check", {}, "success"), "global")]) == set()
	global_messages("act", {}, [f.scoped(f.entry(1, "check", {}, "success"), "trace")]) == {"check must succeed before act (workflow g)"}
}

test_a_forbidden_sequence_reads_its_scope if {
	global_messages("post", {}, [f.scoped(f.entry(1, "leak", {}, "success"), "global")]) == {"post is not allowed after leak by anyone (workflow g)"}
	global_messages("post", {}, [f.scoped(f.entry(1, "leak", {}, "success"), "session")]) == set()
	global_messages("post", {}, [f.scoped(f.entry(1, "leak", {}, "error"), "global")]) == set()
}

test_a_forbidden_sequence_names_its_scope if {
	every scope, words in {"trace": "in the same agent run", "principal": "by the same principal"} {
		templates := {"t": {"scope": scope, "forbidden": [{"after": ["leak"], "then": ["post"]}]}}
		{v.message | some v in workflow.violations} == {concat(" ", ["post is not allowed after leak", words, "(workflow t)"])} with input as f.call("post", {}, [f.scoped(f.entry(1, "leak", {}, "error"), scope)])
			with data.workflows as templates
	}
}

recent(seq, scope) := f.scoped(f.at(f.entry(seq, "post", {}, "success"), f.now_ms - 1000), scope)

test_a_rate_limit_counts_its_scope if {
	global_messages("post", {}, [recent(1, "global"), recent(2, "global")]) == {"post is limited to 2 calls per 60 s; 2 ran in the last 60 s by anyone (workflow g)"}
	global_messages("post", {}, [recent(1, "global"), recent(1, "session"), recent(2, "session")]) == set()
}

test_status_reads_the_scope_of_each_workflow if {
	history := [
		f.scoped(f.entry_with_result(1, "build", {"id": 1}, "success", {"ok": true}), "global"),
		f.scoped(f.entry_with_result(2, "build", {"id": 2}, "success", {"ok": true}), "session"),
		f.scoped(f.entry(3, "check", {}, "error"), "session"),
		f.scoped(f.entry(4, "check", {}, "success"), "global"),
		f.scoped(f.entry(5, "leak", {}, "success"), "global"),
	]
	w := workflow.status.workflows.g with input as f.call("", {}, history)
		with data.workflows as global_flow
	[s.subject | some s in w.subjects] == [{"id": 1}]
	one := w.subjects[0]
	states(one) == {"build": "done", "ship": "pending", "check": "done", "act": "pending"}
	step_of(one, "check").last_outcome == "success"
	step_of(one, "build").last_outcome == "success"
	w.restrictions[0].tripped
}

test_status_of_a_history_without_scopes_is_the_session if {
	history := [f.entry_with_result(1, "build", {"id": 1}, "success", {"ok": true}), f.entry(2, "check", {}, "denied")]
	w := workflow.status.workflows.g with input as f.call("", {}, history)
		with data.workflows as global_flow
	[s.subject | some s in w.subjects] == [{"id": 1}]
	states(w.subjects[0]) == {"build": "done", "ship": "pending", "check": "blocked", "act": "blocked"}
	step_of(w.subjects[0], "check").last_outcome == "denied"
}

test_a_bad_scope_blocks_the_workflow if {
	templates := {"bad": {"scope": "team", "steps": [{"tool": "a"}]}}
	{v.message | some v in workflow.invalid_template} == {"workflow bad is invalid (workflow: scope must be one of global, principal, session, trace, got team); its tools are blocked until it is fixed"} with input as f.call("a", {}, [])
		with data.workflows as templates
}

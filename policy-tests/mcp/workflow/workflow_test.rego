# The engine on small synthetic templates, one feature at a time. The shipped templates are
# tested end to end in policy-tests/workflows/.
package mcp.workflow_test

import data.fixtures_test as f
import data.mcp.workflow

# a -> b (must run) -> c, per id; d needs only a and is monitored; e needs a, uncorrelated.
flow := {"flow": {
	"correlate": ["id"],
	"steps": [
		{"tool": "a"},
		{"tool": "b", "must": "run"},
		{"tool": "c"},
		{"tool": "d", "requires": ["a"], "mode": "monitor"},
		{"tool": "e", "requires": ["a"], "correlate": []},
	],
}}

messages(call) := result if {
	result := {v.message | some v in workflow.violations} with input as call
		with data.workflows as flow
}

rules(call, templates) := result if {
	result := {v.rule | some v in workflow.violations} with input as call
		with data.workflows as templates
}

test_unknown_tool_is_free if {
	messages(f.call("zzz", {}, [])) == set()
}

test_first_step_is_free if {
	messages(f.call("a", {"id": 1}, [])) == set()
}

test_every_earlier_step_is_required if {
	messages(f.call("c", {"id": 1}, [])) == {
		"a must succeed for id=1 before c (workflow flow)",
		"b must run for id=1 before c (workflow flow)",
	}
}

test_must_run_accepts_a_failed_run if {
	history := [f.entry(1, "a", {"id": 1}, "success"), f.entry(2, "b", {"id": 1}, "error")]
	messages(f.call("c", {"id": 1}, history)) == set()
}

test_denied_attempt_is_not_a_run if {
	history := [f.entry(1, "a", {"id": 1}, "success"), f.entry(2, "b", {"id": 1}, "denied")]
	messages(f.call("c", {"id": 1}, history)) == {"b must run for id=1 before c (workflow flow)"}
}

test_steps_are_correlated_per_subject if {
	history := [f.entry(1, "a", {"id": 1}, "success"), f.entry(2, "b", {"id": 1}, "success")]
	messages(f.call("c", {"id": 1, "extra": true}, history)) == set()
	messages(f.call("c", {"id": 2}, history)) == {
		"a must succeed for id=2 before c (workflow flow)",
		"b must run for id=2 before c (workflow flow)",
	}
}

test_a_later_failure_closes_the_gate if {
	history := [
		f.entry(1, "a", {"id": 1}, "success"),
		f.entry(2, "b", {"id": 1}, "success"),
		f.entry(3, "a", {"id": 1}, "error"),
	]
	messages(f.call("c", {"id": 1}, history)) == {"a must succeed for id=1 before c; its last run failed (workflow flow)"}
}

test_a_later_success_reopens_the_gate if {
	history := [f.entry(1, "a", {"id": 1}, "error"), f.entry(2, "a", {"id": 1}, "success"), f.entry(3, "b", {"id": 1}, "success")]
	messages(f.call("c", {"id": 1}, history)) == set()
}

test_requires_picks_the_earlier_steps if {
	history := [f.entry(1, "a", {"id": 1}, "success")]
	messages(f.call("d", {"id": 1}, history)) == set()
	messages(f.call("d", {"id": 2}, history)) == {"a must succeed for id=2 before d (workflow flow)"}
}

test_step_mode_monitor if {
	modes := {v.mode | some v in workflow.violations} with input as f.call("d", {"id": 2}, [])
		with data.workflows as flow
	modes == {"monitor"}
	c_modes := {v.mode | some v in workflow.violations} with input as f.call("c", {"id": 2}, [])
		with data.workflows as flow
	c_modes == {"enforce"}
}

test_workflow_mode_monitor_and_step_override if {
	monitored := {"w": object.union(flow.flow, {"mode": "monitor"})}
	{v.mode | some v in workflow.violations} == {"monitor"} with input as f.call("c", {"id": 2}, [])
		with data.workflows as monitored
	overridden := {"w": {"mode": "monitor", "steps": [{"tool": "a"}, {"tool": "b", "mode": "enforce"}]}}
	{v.mode | some v in workflow.violations} == {"enforce"} with input as f.call("b", {}, [])
		with data.workflows as overridden
}

test_unknown_mode_enforces if {
	typo := {"w": {"mode": "monitr", "steps": [{"tool": "a"}, {"tool": "b"}]}}
	{v.mode | some v in workflow.violations} == {"enforce"} with input as f.call("b", {}, [])
		with data.workflows as typo
}

test_uncorrelated_step_reads_the_summary if {
	# e has correlate: [], so any successful a (latest run) opens it, whatever the id.
	messages(f.call("e", {}, [f.entry(1, "a", {"id": 9}, "success")])) == set()
	messages(f.call("e", {}, [f.entry(1, "a", {"id": 9}, "success"), f.entry(2, "a", {"id": 8}, "error")])) == {"a must succeed before e; its last run failed (workflow flow)"}
	messages(f.call("e", {}, [])) == {"a must succeed before e (workflow flow)"}
}

test_uncorrelated_gate_survives_a_history_window if {
	# history windowed away, summary complete: a succeeded (seq 1).
	windowed := object.union(f.call("e", {}, []), {"summary": {"a": {"calls": 1, "successes": 1, "failures": 0, "denied": 0, "last_outcome": "success", "last_success_seq": 1}}})
	messages(windowed) == set()
}

test_correlation_missing if {
	messages(f.call("c", {"other": 1}, [])) == {"c needs argument id to be matched with its earlier steps (workflow flow)"}
	rules(f.call("c", {}, []), flow) == {"workflow.correlation_missing"}
	messages(f.call("c", "not-an-object", [])) == {"c needs argument id to be matched with its earlier steps (workflow flow)"}
}

test_correlation_missing_names_every_missing_key if {
	two := {"w": {"correlate": ["x", "y"], "steps": [{"tool": "a"}, {"tool": "b"}]}}
	{v.message | some v in workflow.violations} == {"b needs argument x, y to be matched with its earlier steps (workflow w)"} with input as f.call("b", {}, [])
		with data.workflows as two
}

test_violation_fields if {
	v := {v | some v in workflow.violations} with input as f.call("d", {"id": 2}, [])
		with data.workflows as flow
	v == {{
		"rule": "workflow.step_order",
		"message": "a must succeed for id=2 before d (workflow flow)",
		"workflow": "flow",
		"step": "d",
		"mode": "monitor",
	}}
}

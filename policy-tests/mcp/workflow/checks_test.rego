# Result checks, forbidden sequences, rate limits, approvals and audit, on synthetic templates.
package mcp.workflow_test

import data.fixtures_test as f
import data.mcp.workflow

checked := {"check": {
	"correlate": ["id"],
	"steps": [
		{"tool": "scan", "reject_if": [
			{"field": "score", "op": "gte", "value": 0.8},
			{"field": "verdict", "op": "in", "value": ["reject", "block"]},
		]},
		{"tool": "act"},
	],
}}

scan(seq, id, result) := f.entry_with_result(seq, "scan", {"id": id}, "success", result)

check_messages(history) := result if {
	result := {v.message | some v in workflow.violations} with input as f.call("act", {"id": 1}, history)
		with data.workflows as checked
}

test_result_within_limits_passes if {
	check_messages([scan(1, 1, {"score": 0.2, "verdict": "approve"})]) == set()
}

test_result_over_the_threshold_blocks if {
	check_messages([scan(1, 1, {"score": 0.8, "verdict": "approve"})]) == {"act blocked: scan for id=1 returned score 0.8 (blocked when score >= 0.8) (workflow check)"}
	check_messages([scan(1, 1, {"score": 0.1, "verdict": "block"})]) == {"act blocked: scan for id=1 returned verdict block (blocked when verdict in [\"reject\",\"block\"]) (workflow check)"}
}

test_only_the_latest_result_of_the_same_subject_counts if {
	check_messages([scan(1, 1, {"score": 0.9, "verdict": "approve"}), scan(2, 1, {"score": 0.1, "verdict": "approve"})]) == set()
	check_messages([scan(1, 1, {"score": 0.1, "verdict": "approve"}), scan(2, 1, {"score": 0.9, "verdict": "approve"})]) == {"act blocked: scan for id=1 returned score 0.9 (blocked when score >= 0.8) (workflow check)"}
	check_messages([scan(1, 1, {"score": 0.1, "verdict": "approve"}), scan(2, 2, {"score": 0.9, "verdict": "approve"})]) == set()
}

test_unstructured_or_incomplete_result_blocks if {
	check_messages([scan(1, 1, "looks fine")]) == {
		"act blocked: scan for id=1 returned no structured result to check score (workflow check)",
		"act blocked: scan for id=1 returned no structured result to check verdict (workflow check)",
	}
	check_messages([scan(1, 1, {"score": 0.1})]) == {"act blocked: scan for id=1 returned no verdict (workflow check)"}
}

test_result_outside_the_history_window_blocks if {
	uncorrelated := {"w": {"steps": [{"tool": "scan", "reject_if": [{"field": "score", "op": "lt", "value": 1}]}, {"tool": "act"}]}}
	call := object.union(f.call("act", {}, []), {"summary": {"scan": {"calls": 1, "successes": 1, "failures": 0, "denied": 0, "last_outcome": "success", "last_success_seq": 1}}})
	{v.message | some v in workflow.violations} == {"act blocked: scan returned no structured result to check score (workflow w)"} with input as call
		with data.workflows as uncorrelated
}

test_failed_scan_is_a_step_order_reason_not_a_result_reason if {
	history := [f.entry_with_result(1, "scan", {"id": 1}, "error", {"score": 0.9})]
	check_messages(history) == {"scan must succeed for id=1 before act; its last run failed (workflow check)"}
}

test_condition_message_overrides_the_default if {
	custom := {"w": {"steps": [{"tool": "scan", "reject_if": [{"field": "ok", "op": "eq", "value": false, "message": "said no"}]}, {"tool": "act"}]}}
	{v.message | some v in workflow.violations} == {"act blocked: scan said no (workflow w)"} with input as f.call("act", {}, [f.entry_with_result(1, "scan", {}, "success", {"ok": false})])
		with data.workflows as custom
}

test_compare_operators if {
	workflow.compare("eq", 1, 1)
	not workflow.compare("eq", 1, 2)
	workflow.compare("ne", 1, 2)
	not workflow.compare("ne", 1, 1)
	workflow.compare("gt", 2, 1)
	not workflow.compare("gt", 1, 1)
	workflow.compare("gte", 1, 1)
	not workflow.compare("gte", 0, 1)
	workflow.compare("lt", 0, 1)
	not workflow.compare("lt", 1, 1)
	workflow.compare("lte", 1, 1)
	not workflow.compare("lte", 2, 1)
	workflow.compare("in", "a", ["a", "b"])
	not workflow.compare("in", "c", ["a", "b"])
	workflow.compare("not_in", "c", ["a", "b"])
	not workflow.compare("not_in", "a", ["a", "b"])
	not workflow.compare("between", 1, 1)
}

# --- forbidden sequences --------------------------------------------------------------------

forbidding := {"nosend": {"forbidden": [
	{"after": ["read"], "then": ["send", "post"]},
	{"after": ["login"], "then": ["post"], "when": "succeed", "mode": "monitor", "message": "no posting once logged in"},
]}}

forbidden(call) := result if {
	result := {[v.message, v.mode] | some v in workflow.violations} with input as call
		with data.workflows as forbidding
}

test_forbidden_after_a_run if {
	forbidden(f.call("send", {}, [f.entry(1, "read", {}, "error")])) == {["send is not allowed after read in the same session (workflow nosend)", "enforce"]}
	forbidden(f.call("post", {}, [f.entry(1, "read", {}, "success")])) == {["post is not allowed after read in the same session (workflow nosend)", "enforce"]}
}

test_forbidden_is_free_otherwise if {
	forbidden(f.call("send", {}, [])) == set()
	forbidden(f.call("send", {}, [f.entry(1, "read", {}, "denied")])) == set()
	forbidden(f.call("read", {}, [f.entry(1, "send", {}, "success")])) == set()
}

test_forbidden_when_succeed_and_monitor if {
	forbidden(f.call("post", {}, [f.entry(1, "login", {}, "error")])) == set()
	forbidden(f.call("post", {}, [f.entry(1, "login", {}, "success")])) == {["no posting once logged in (workflow nosend)", "monitor"]}
}

# --- rate limits ----------------------------------------------------------------------------

limited := {"lim": {"rate_limits": [{"tool": "pay", "max": 2, "window_ms": 60000}]}}

limit_messages(history) := result if {
	result := {v.message | some v in workflow.violations} with input as f.call("pay", {}, history)
		with data.workflows as limited
}

test_rate_limit_allows_up_to_max if {
	limit_messages([f.entry(1, "pay", {}, "success")]) == set()
}

test_rate_limit_denies_over_max if {
	recent := [f.at(f.entry(1, "pay", {}, "success"), f.now_ms - 1000), f.at(f.entry(2, "pay", {}, "error"), f.now_ms - 500)]
	limit_messages(recent) == {"pay is limited to 2 calls per 60 s; 2 ran in the last 60 s (workflow lim)"}
}

test_rate_limit_forgets_old_and_denied_calls if {
	old := [f.at(f.entry(1, "pay", {}, "success"), f.now_ms - 61000), f.at(f.entry(2, "pay", {}, "success"), f.now_ms - 500)]
	limit_messages(old) == set()
	denied := [f.at(f.entry(1, "pay", {}, "denied"), f.now_ms - 1000), f.at(f.entry(2, "pay", {}, "success"), f.now_ms - 500)]
	limit_messages(denied) == set()
}

# --- approvals ------------------------------------------------------------------------------

approving := {"rel": {"steps": [
	{"tool": "build"},
	{"tool": "ship", "approval": {"required": true, "approvers": ["lead", "cto"], "reason": "shipping needs a lead"}},
	{"tool": "tag", "requires": [], "mode": "monitor", "approval": {"required": true}},
	{"tool": "note", "requires": [], "approval": {"required": true, "scope": "session", "approvers": ["lead"]}},
	{"tool": "free", "requires": [], "approval": {"required": false}},
]}}

approvals(name, history, granted) := result if {
	result := workflow.approval with input as f.call_with_approvals(name, {}, history, granted)
		with data.workflows as approving
}

test_approval_needed_without_approval if {
	approvals("ship", [], []) == {{
		"rule": "workflow.approval", "reason": "shipping needs a lead", "approvers": ["lead", "cto"],
		"workflow": "rel", "step": "ship", "mode": "enforce",
	}}
}

test_approval_satisfied_by_an_approval_for_this_call if {
	approvals("ship", [], [f.approval("ship")]) == set()
	shipped := [f.entry(1, "ship", {}, "success")]
	approvals("ship", shipped, [f.approval_of("ship", "call-1")]) != set()
	approvals("ship", shipped, [f.approval_of("ship", "call-1"), f.approval("ship")]) == set()
	approvals("ship", [], [f.approval_of("ship", "call-1")]) != set()
	approvals("ship", [], [f.approval("build")]) != set()
}

test_approval_scope_session if {
	approvals("note", [f.entry(1, "note", {}, "success")], [f.approval_of("note", "call-1")]) == set()
	approvals("note", [], []) != set()
}

test_approval_default_reason_and_monitor_mode if {
	approvals("tag", [], []) == {{
		"rule": "workflow.approval", "reason": "tag needs approval (workflow rel)", "approvers": [],
		"workflow": "rel", "step": "tag", "mode": "monitor",
	}}
}

test_approval_not_required if {
	approvals("free", [], []) == set()
	approvals("build", [], []) == set()
}

# --- audit ----------------------------------------------------------------------------------

audited := {
	"money": {"audit": "required", "tools": ["refund"], "steps": [{"tool": "charge"}]},
	"plain": {"audit": "none", "steps": [{"tool": "read"}]},
	"bare": {"steps": [{"tool": "write"}]},
}

test_audit_required_for_steps_and_members if {
	workflow.audit_required with input as f.call("charge", {}, [])
		with data.workflows as audited
	workflow.audit_required with input as f.call("refund", {}, [])
		with data.workflows as audited
}

test_audit_not_required_elsewhere if {
	not workflow.audit_required with input as f.call("read", {}, [])
		with data.workflows as audited
	not workflow.audit_required with input as f.call("write", {}, [])
		with data.workflows as audited
	not workflow.audit_required with input as f.call("other", {}, [])
		with data.workflows as audited
}

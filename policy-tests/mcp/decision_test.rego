# data.mcp.decision: shape, routing of enforce/monitor, obligations, hand-written rule packages.
package mcp_test

import data.fixtures_test as f
import data.mcp

shape_keys := {"allow", "reasons", "monitored", "obligations"}

test_unknown_tool_is_allowed_with_the_full_shape if {
	d := mcp.decision with input as f.call("echo", {"text": "hi"}, [])
	d == {"allow": true, "reasons": [], "monitored": [], "obligations": {}}
}

test_decision_is_defined_for_any_input if {
	every doc in [{}, {"version": 1}, {"version": 1, "call": null}, {"version": 1, "call": {"name": 3}}, "junk"] {
		d := mcp.decision with input as doc
		{k | some k, _ in d} == shape_keys
	}
}

test_unsupported_input_version_denies if {
	d := mcp.decision with input as object.union(f.call("echo", {}, []), {"version": 2})
	d.allow == false
	d.reasons == [{"rule": "mcp.input_version", "message": "input document version 2 is not supported by this policy (it expects version 1)"}]
	missing := mcp.decision with input as {"call": {"name": "echo"}}
	missing.reasons[0].message == "input document version null is not supported by this policy (it expects version 1)"
}

templates := {
	"gate": {"steps": [{"tool": "a"}, {"tool": "b"}, {"tool": "m", "requires": ["a"], "mode": "monitor"}]},
	"rel": {"steps": [{"tool": "ship", "approval": {"required": true, "approvers": ["lead"], "reason": "ship needs a lead"}}]},
	"rel2": {"steps": [{"tool": "x"}, {"tool": "ship", "approval": {"required": true, "approvers": ["cto", "lead"], "reason": "and a cto"}}]},
	"watch": {"mode": "monitor", "steps": [{"tool": "tag", "approval": {"required": true, "approvers": ["lead"]}}]},
	"money": {"audit": "required", "steps": [{"tool": "quote"}, {"tool": "charge"}]},
}

decide(name, history, approvals) := d if {
	d := mcp.decision with input as f.call_with_approvals(name, {}, history, approvals)
		with data.workflows as templates
}

test_enforced_violation_denies_without_the_mode_field if {
	decide("b", [], []) == {
		"allow": false,
		"reasons": [{"rule": "workflow.step_order", "message": "a must succeed before b (workflow gate)", "workflow": "gate", "step": "b"}],
		"monitored": [],
		"obligations": {},
	}
}

test_enforced_violation_allows_once_satisfied if {
	decide("b", [f.entry(1, "a", {}, "success")], []).allow == true
}

test_monitored_violation_is_logged_not_enforced if {
	decide("m", [], []) == {
		"allow": true,
		"reasons": [],
		"monitored": [{"rule": "workflow.step_order", "message": "a must succeed before m (workflow gate)", "workflow": "gate", "step": "m"}],
		"obligations": {},
	}
}

test_approval_obligation_when_needed if {
	d := decide("ship", [f.entry(1, "x", {}, "success")], [])
	d.allow == true
	d.obligations == {"approval": {
		"required": true,
		"reason": "and a cto; ship needs a lead",
		"approvers": ["cto", "lead"],
		"allow_self_approval": false,
	}}
	d.reasons == []
}

test_self_approval_only_for_a_listed_role if {
	obligation(["lead", "self-approver"]).allow_self_approval == true
	obligation(["lead"]).allow_self_approval == false
	not_listed := obligation(["lead", "self-approver"]) with data.approval.self_approval.roles as ["solo"]
	not_listed.allow_self_approval == false
	obligation(["solo"]).allow_self_approval == true with data.approval.self_approval.roles as ["solo"]
}

obligation(roles) := d.obligations.approval if {
	doc := f.call_with_approvals("ship", {}, [f.entry(1, "x", {}, "success")], [])
	principal := {"sub": "alice", "roles": roles, "claims": {}}
	d := mcp.decision with input as object.union(doc, {"principal": principal})
		with data.workflows as templates
}

test_approval_obligation_gone_once_approved if {
	d := decide("ship", [f.entry(1, "x", {}, "success")], [f.approval("ship")])
	d == {"allow": true, "reasons": [], "monitored": [], "obligations": {}}
}

test_no_approval_obligation_on_a_denied_call if {
	d := decide("ship", [], [])
	d.allow == false
	d.reasons[0].rule == "workflow.step_order"
	d.obligations == {}
}

test_monitored_approval_is_logged_not_required if {
	decide("tag", [], []) == {
		"allow": true,
		"reasons": [],
		"monitored": [{"rule": "workflow.approval", "message": "tag needs approval (workflow watch)", "workflow": "watch", "step": "tag"}],
		"obligations": {},
	}
}

test_audit_obligation_on_allowed_and_denied_calls if {
	decide("quote", [], []) == {"allow": true, "reasons": [], "monitored": [], "obligations": {"audit": {"required": true}}}
	denied := decide("charge", [], [])
	denied.allow == false
	denied.obligations == {"audit": {"required": true}}
}

rules := {
	"guard": {
		"deny": {{"rule": "guard.no_friday", "message": "no deploys on friday"}},
		"monitor": {{"rule": "guard.late", "message": "late call"}},
	},
	"other": {"deny": {{"rule": "guard.no_friday", "message": "no deploys on friday"}}},
}

test_hand_written_rule_packages_compose if {
	d := mcp.decision with input as f.call("echo", {}, [])
		with data.mcp.rules as rules
	d == {
		"allow": false,
		"reasons": [{"rule": "guard.no_friday", "message": "no deploys on friday"}],
		"monitored": [{"rule": "guard.late", "message": "late call"}],
		"obligations": {},
	}
}

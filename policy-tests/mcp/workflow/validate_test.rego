# Template validation: each kind of mistake is reported with where it is, and blocks only the
# tools of the broken workflow.
package mcp.workflow_test

import data.fixtures_test as f
import data.mcp.workflow

errors_of(templates) := result if {
	result := {e.message | some e in workflow.errors} with data.workflows as templates
}

test_shipped_templates_are_valid if {
	workflow.errors == set()
	count(workflow.templates) >= 4
}

test_valid_template_has_no_errors if {
	errors_of({"ok": {
		"description": "d", "mode": "monitor", "scope": "principal", "audit": "required", "correlate": ["id"], "tools": ["x"],
		"steps": [
			{"tool": "a", "must": "run", "reject_if": [{"field": "s", "op": "lt", "value": 1, "message": "m"}]},
			{"tool": "b", "requires": ["a"], "approval": {"required": true, "approvers": ["r"], "reason": "why", "scope": "session"}},
		],
		"forbidden": [{"after": ["a"], "then": ["c"], "when": "succeed", "mode": "enforce", "message": "m"}],
		"rate_limits": [{"tool": "b", "max": 1, "window_ms": 1000, "mode": "monitor"}],
	}}) == set()
}

test_not_an_object if {
	errors_of({"w": "steps"}) == {"workflow: must be an object, got steps"}
	errors_of({"w": {"steps": ["a"]}}) == {"steps[0]: must be an object, got a"}
}

test_unknown_keys if {
	errors_of({"w": {"stepz": []}}) == {"workflow: unknown key stepz (allowed: audit, correlate, description, forbidden, mode, rate_limits, scope, steps, tools)"}
	errors_of({"w": {"steps": [{"tool": "a", "corelate": ["id"]}]}}) == {"steps[0]: unknown key corelate (allowed: approval, correlate, description, mode, must, reject_if, requires, tool)"}
	errors_of({"w": {"steps": [{"tool": "a", "approval": {"required": true, "approvers": ["r"], "who": 1}}]}}) == {"steps[0].approval: unknown key who (allowed: approvers, reason, required, scope)"}
}

test_missing_keys if {
	errors_of({"w": {"steps": [{"must": "run"}]}}) == {"steps[0]: missing key tool"}
	errors_of({"w": {"steps": [{"tool": "a", "reject_if": [{"field": "s", "op": "lt"}]}]}}) == {"steps[0].reject_if[0]: missing key value"}
	errors_of({"w": {"forbidden": [{"after": ["a"]}]}}) == {"forbidden[0]: missing key then"}
	errors_of({"w": {"rate_limits": [{"tool": "a", "max": 1}]}}) == {"rate_limits[0]: missing key window_ms"}
}

test_bad_enum_values if {
	errors_of({"w": {"mode": "monitr"}}) == {"workflow: mode must be one of enforce, monitor, got monitr"}
	errors_of({"w": {"audit": true}}) == {"workflow: audit must be one of none, required, got true"}
	errors_of({"w": {"scope": "tenant"}}) == {"workflow: scope must be one of global, principal, session, trace, got tenant"}
	errors_of({"w": {"scope": ["global"]}}) == {"workflow: scope must be one of global, principal, session, trace, got [\"global\"]"}
	errors_of({"w": {"steps": [{"tool": "a", "must": "suceed"}]}}) == {"steps[0]: must must be one of run, succeed, got suceed"}
	errors_of({"w": {"steps": [{"tool": "a", "reject_if": [{"field": "s", "op": ">=", "value": 1}]}]}}) == {"steps[0].reject_if[0]: op must be one of eq, gt, gte, in, lt, lte, ne, not_in, got >="}
	errors_of({"w": {"forbidden": [{"after": ["a"], "then": ["b"], "when": "always"}]}}) == {"forbidden[0]: when must be one of run, succeed, got always"}
	errors_of({"w": {"steps": [{"tool": "a", "approval": {"required": true, "approvers": ["r"], "scope": "day"}}]}}) == {"steps[0].approval: scope must be one of call, session, got day"}
}

test_bad_types if {
	errors_of({"w": {"correlate": "id"}}) == {"workflow: correlate must be an array, got string"}
	errors_of({"w": {"steps": [{"tool": "a", "requires": "b"}]}}) == {"steps[0]: requires must be an array, got string"}
	errors_of({"w": {"rate_limits": [{"tool": "a", "max": "10", "window_ms": 1}]}}) == {"rate_limits[0]: max must be a number, got string"}
	errors_of({"w": {"steps": [{"tool": "a", "approval": {"required": "yes", "approvers": ["r"]}}]}}) == {"steps[0].approval: required must be a boolean, got string"}
}

test_duplicate_step if {
	errors_of({"w": {"steps": [{"tool": "a"}, {"tool": "a"}]}}) == {"workflow: tool a appears in more than one step"}
}

test_requires_unknown_step if {
	errors_of({"w": {"steps": [{"tool": "a"}, {"tool": "b", "requires": ["c"]}]}}) == {"steps[1]: requires c, which is not a step of this workflow"}
}

test_approval_without_approvers if {
	errors_of({"w": {"steps": [{"tool": "a", "approval": {"required": true}}]}}) == {"steps[0].approval: required approval needs a non-empty approvers list"}
	errors_of({"w": {"steps": [{"tool": "a", "approval": {"required": false}}]}}) == set()
}

broken := {
	"broken": {"mode": "monitor", "steps": [{"tool": "a"}, {"tool": "b", "must": "suceed"}], "forbidden": [{"after": ["a"], "then": ["c"]}], "rate_limits": [{"tool": "d", "max": 1, "window_ms": 1}]},
	"fine": {"steps": [{"tool": "x"}]},
	"typo": {"mode": "monitr", "steps": [{"tool": "y"}]},
}

invalid(name) := result if {
	result := {[v.rule, v.message, v.mode] | some v in workflow.invalid_template} with input as f.call(name, {}, [])
		with data.workflows as broken
}

test_invalid_template_blocks_its_own_tools if {
	expected := {[
		"workflow.invalid_template",
		"workflow broken is invalid (steps[1]: must must be one of run, succeed, got suceed); its tools are blocked until it is fixed",
		"monitor",
	]}
	invalid("a") == expected
	invalid("b") == expected
	invalid("c") == expected
	invalid("d") == expected
}

test_invalid_template_leaves_other_tools_alone if {
	invalid("x") == set()
	invalid("zzz") == set()
}

test_invalid_mode_enforces if {
	invalid("y") == {[
		"workflow.invalid_template",
		"workflow typo is invalid (workflow: mode must be one of enforce, monitor, got monitr); its tools are blocked until it is fixed",
		"enforce",
	]}
}

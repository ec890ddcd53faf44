# data.mcp.history.reads: the history the policy declares, derived from the templates (shipped and
# synthetic) and the flow rule's settings (data.flow), plus data.history.reads. Warden evaluates it
# with an empty input.
package mcp.history_test

import data.mcp.history

ran := ["success", "error"]

# reads_for(templates): the workflow engine's reads for templates (those by tool or all).
reads_for(templates) := result if {
	result := {r | some r in history.reads; not r.label} with input as {}
		with data.workflows as templates
}

of_workflow(tools) := {r | some r in history.reads; some name in r.for; name in tools}

# by_label: the flow rule's reads (policy/mcp/flow/).
by_label := {r | some r in history.reads; r.label}

test_shipped_production_deployment_reads if {
	of_workflow({"run_tests", "security_scan", "deploy_to_production"}) == {
		{"for": ["security_scan"], "tool": "run_tests", "scope": "global", "match": ["service"], "last": 1, "outcomes": ran},
		{"for": ["deploy_to_production"], "tool": "run_tests", "scope": "global", "match": ["service"], "last": 1, "outcomes": ran},
		{"for": ["deploy_to_production"], "tool": "security_scan", "scope": "global", "match": ["service"], "last": 1, "outcomes": ran},
	} with input as {}
}

test_shipped_financial_processing_reads_its_gate_and_rate_limit if {
	of_workflow({"fraud_check", "payment_processing", "refund_payment"}) == {
		{"for": ["payment_processing"], "tool": "fraud_check", "scope": "global", "match": ["payment_id", "amount"], "last": 1, "outcomes": ran},
		{"for": ["payment_processing"], "tool": "payment_processing", "scope": "global", "match": [], "last": 10, "outcomes": ran},
	} with input as {}
}

test_shipped_flow_rule_reads_each_label_in_the_trace_for_every_call if {
	by_label == {
		{"for": [], "label": "secret", "scope": "trace", "last": 1, "outcomes": ran},
		{"for": [], "label": "pii", "scope": "trace", "last": 1, "outcomes": ran},
	} with input as {}
}

test_flow_reads_follow_data_flow if {
	reads := by_label with input as {}
		with data.flow as {"scope": "principal", "labels": ["injection"]}
	reads == {{"for": [], "label": "injection", "scope": "principal", "last": 1, "outcomes": ran}}
}

test_invalid_flow_settings_declare_nothing if {
	reads := by_label with input as {}
		with data.flow as {"scope": "team"}
	reads == set()
}

test_shipped_reads_by_scope if {
	{[r.tool, r.for[0], r.scope] | some r in history.reads; r.tool; r.scope != "global"} == {
		["validate_customer_data", "create_account", "principal"],
		["validate_customer_data", "backup_customer_record", "principal"],
		["create_account", "backup_customer_record", "principal"],
		["validate_customer_data", "send_welcome_email", "principal"],
		["create_account", "send_welcome_email", "principal"],
		["backup_customer_record", "send_welcome_email", "principal"],
		["validate_customer_data", "send_customer_email", "principal"],
	} with input as {}
	{r.tool | some r in history.reads; r.tool; r.scope == "global"} == {
		"run_tests", "security_scan", "backup_database", "fraud_check", "payment_processing",
	} with input as {}
}

test_reads_do_not_depend_on_the_input if {
	some_call := {"version": 1, "call": {"name": "deploy_to_production", "arguments": {"service": "api"}, "annotations": {"openWorldHint": true}}, "history": []}
	with_a_call := history.reads with input as some_call
	with_a_call == history.reads with input as {}
}

test_gate_reads_follow_requires_and_step_correlation if {
	reads_for({"w": {"correlate": ["id"], "steps": [
		{"tool": "a"},
		{"tool": "b", "must": "run"},
		{"tool": "c", "requires": ["a"], "correlate": []},
	]}}) == {
		{"for": ["b"], "tool": "a", "scope": "session", "match": ["id"], "last": 1, "outcomes": ran},
		{"for": ["c"], "tool": "a", "scope": "session", "match": [], "last": 1, "outcomes": ran},
	}
}

test_rate_limit_reads_the_newest_max_runs if {
	reads_for({"w": {"scope": "principal", "rate_limits": [
		{"tool": "pay", "max": 3, "window_ms": 1000},
		{"tool": "post", "max": 2.5, "window_ms": 1000},
		{"tool": "never", "max": 0, "window_ms": 1000},
	]}}) == {
		{"for": ["pay"], "tool": "pay", "scope": "principal", "match": [], "last": 3, "outcomes": ran},
		{"for": ["post"], "tool": "post", "scope": "principal", "match": [], "last": 3, "outcomes": ran},
		{"for": ["never"], "tool": "never", "scope": "principal", "match": [], "last": 1, "outcomes": ran},
	}
}

test_forbidden_reads_one_per_earlier_tool if {
	reads_for({"w": {"scope": "global", "forbidden": [
		{"after": ["read", "list"], "then": ["send", "post"]},
		{"after": ["login"], "then": ["post"], "when": "succeed"},
	]}}) == {
		{"for": ["send", "post"], "tool": "read", "scope": "global", "match": [], "last": 1, "outcomes": ran},
		{"for": ["send", "post"], "tool": "list", "scope": "global", "match": [], "last": 1, "outcomes": ran},
		{"for": ["post"], "tool": "login", "scope": "global", "match": [], "last": 1, "outcomes": ["success"]},
	}
}

test_an_invalid_template_declares_nothing if {
	reads_for({
		"bad": {"scope": "team", "steps": [{"tool": "a"}, {"tool": "b"}]},
		"ok": {"steps": [{"tool": "x"}, {"tool": "y"}]},
	}) == {{"for": ["y"], "tool": "x", "scope": "session", "match": [], "last": 1, "outcomes": ran}}
}

test_no_templates_no_reads if {
	reads_for({}) == set()
}

test_data_history_reads_are_passed_through if {
	mine := [
		{"for": ["deploy_to_production"], "scope": "session", "all": true},
		{"tool": "approve_change", "scope": "principal", "match": ["ticket"], "last": 5, "outcomes": ["denied"]},
	]
	declared := reads_for({}) with data.history.reads as mine
	declared == {r | some r in mine}

	shipped_and_mine := history.reads with input as {}
		with data.history.reads as mine
	count(shipped_and_mine) == count(history.reads) + 2 with input as {}
}

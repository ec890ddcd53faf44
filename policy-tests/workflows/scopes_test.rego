# The scope each shipped template reads, end to end through data.mcp.decision: entries drawn from
# the template's scope count, entries drawn only from another scope do not. (A history without
# any scope, as in the other tests here, is the session's and every template reads it.)
package workflows_test

import data.fixtures_test as f
import data.mcp

# drawn(entries, scope): the entries as drawn from scope.
drawn(entries, scope) := [f.scoped(e, scope) | some e in entries]

test_production_deployment_counts_anyones_green_build_of_the_service if {
	deploy(api, drawn(green_api, "global"), []).obligations == approval_obligation
	d := deploy(api, drawn(green_api, "session"), [])
	[r.message | some r in d.reasons] == [
		"run_tests must succeed for service=api before deploy_to_production (workflow production_deployment)",
		"security_scan must succeed for service=api before deploy_to_production (workflow production_deployment)",
	]
}

test_production_deployment_follows_anyones_latest_run if {
	failed := drawn([f.entry(3, "run_tests", api, "error")], "global")
	d := deploy(api, array.concat(drawn(green_api, "global"), failed), [])
	[r.message | some r in d.reasons] == ["run_tests must succeed for service=api before deploy_to_production; its last run failed (workflow production_deployment)"]
}

test_database_safety_counts_anyones_backup if {
	drop(drawn([f.entry(1, "backup_database", orders, "success")], "global")).allow
	not drop(drawn([f.entry(1, "backup_database", orders, "success")], "principal")).allow
}

test_the_exfiltration_guard_reads_the_agent_run if {
	d := mcp.decision with input as f.call("http_post", {"to": "x"}, drawn(secret_read, "trace"))
	d.obligations.approval.reason == concat("", [
		"http_post can send data out (a sink in policy/flow.yaml) after a result labelled secret (from read_secret)",
		" in the same agent run [flow.sensitive_to_open_world]",
	])

	# A secret read by another agent run (drawn from the session only) does not taint this one.
	other_run := mcp.decision with input as f.call("http_post", {"to": "x"}, drawn(secret_read, "session"))
	other_run == {"allow": true, "reasons": [], "monitored": [], "obligations": {}}
}

test_customer_onboarding_counts_the_principals_steps if {
	validated := [f.entry(1, "validate_customer_data", c1, "success")]
	onboarding("create_account", c1, drawn(validated, "principal")).allow
	not onboarding("create_account", c1, drawn(validated, "global")).allow
}

test_financial_processing_counts_anyones_check_and_payments if {
	payment := {"payment_id": "p-1", "amount": 10}
	checked := [f.entry_with_result(1, "fraud_check", payment, "success", {"risk_score": 0.1, "decision": "approve"})]
	paid := [f.at(f.entry(n, "payment_processing", {"payment_id": "p-0", "amount": 1}, "success"), f.now_ms - 1000) |
		some n in numbers.range(2, 11)
	]
	d := mcp.decision with input as f.call("payment_processing", payment, drawn(array.concat(checked, paid), "global"))
	d.allow
	[m.message | some m in d.monitored] == ["payment_processing is limited to 10 calls per 60 s; 10 ran in the last 60 s by anyone (workflow financial_processing)"]

	unchecked := mcp.decision with input as f.call("payment_processing", payment, drawn(checked, "trace"))
	not unchecked.allow
}

test_history_can_be_mocked_on_any_input if {
	backed_up := drawn([f.entry(1, "backup_database", orders, "success")], "global")
	d := mcp.decision with input as f.call("delete_database", orders, [])
		with input.history as backed_up
	d.allow
	not drop([]).allow
}

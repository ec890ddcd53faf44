# policy/workflows/database_safety.yaml, and the exfiltration guard of policy/flow.yaml, through
# data.mcp.decision.
package workflows_test

import data.fixtures_test as f
import data.mcp

orders := {"database": "orders"}

drop(history) := d if {
	d := mcp.decision with input as f.call("delete_database", orders, history)
}

test_delete_after_backup_of_the_same_database_is_allowed if {
	drop([f.entry(1, "backup_database", orders, "success")]).allow
}

test_delete_without_backup_is_denied if {
	d := drop([])
	d.reasons == [{
		"rule": "workflow.step_order",
		"message": "backup_database must succeed for database=orders before delete_database (workflow database_safety)",
		"workflow": "database_safety",
		"step": "delete_database",
	}]
}

test_backup_of_another_database_or_a_failed_backup_does_not_count if {
	drop([f.entry(1, "backup_database", {"database": "users"}, "success")]).allow == false
	drop([f.entry(1, "backup_database", orders, "error")]).allow == false
}

# A read_secret result, labelled secret by the result policy (policy/results.yaml labels).
secret_read := [f.labelled(f.entry(1, "read_secret", {"name": "stripe"}, "success"), ["secret"])]

# The flow rule (policy/flow.yaml) holds an outbound send after a secret for a security officer.
held_for_a_security_officer(tool) := {"approval": {
	"required": true,
	"reason": concat("", [sent_after_secret(tool), " [flow.sensitive_to_open_world]"]),
	"approvers": ["security-officer"],
	"allow_self_approval": false,
	"reasons": [{"rule": "flow.sensitive_to_open_world", "message": sent_after_secret(tool)}],
}}

sent_after_secret(tool) := concat("", [
	tool, " can send data out (a sink in policy/flow.yaml) after a result labelled secret (from read_secret)",
	" in the same session",
])

test_no_outbound_send_after_reading_a_secret_without_a_security_officer if {
	every tool in ["send_email", "http_post"] {
		d := mcp.decision with input as f.call(tool, {"to": "x"}, secret_read)
		d.reasons == []
		d.obligations == held_for_a_security_officer(tool)
	}
}

test_a_security_officers_approval_lets_one_send_through if {
	every tool in ["send_email", "http_post"] {
		approved := f.call_with_approvals(tool, {"to": "x"}, secret_read, [f.approval(tool)])
		d := mcp.decision with input as approved
		d == {"allow": true, "reasons": [], "monitored": [], "obligations": {}}

		# The approval of an earlier send does not cover the next one.
		next := f.call_with_approvals(tool, {"to": "x"}, secret_read, [f.approval_of(tool, "call-0")])
		held := mcp.decision with input as next
		held.obligations == held_for_a_security_officer(tool)
	}
}

test_outbound_send_without_a_secret_is_allowed if {
	every tool in ["send_email", "http_post"] {
		d := mcp.decision with input as f.call(tool, {"to": "x"}, [f.entry(1, "backup_database", orders, "success")])
		d == {"allow": true, "reasons": [], "monitored": [], "obligations": {}}
	}
}

test_reading_secrets_stays_allowed if {
	d := mcp.decision with input as f.call("read_secret", {"name": "other"}, secret_read)
	d == {"allow": true, "reasons": [], "monitored": [], "obligations": {}}
}

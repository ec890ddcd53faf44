# policy/workflows/database_safety.yaml and secret_exfiltration.yaml through data.mcp.decision.
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

secret_read := [f.entry(1, "read_secret", {"name": "stripe"}, "success")]

test_no_outbound_send_after_reading_a_secret if {
	every tool in ["send_email", "http_post"] {
		d := mcp.decision with input as f.call(tool, {"to": "x"}, secret_read)
		d.allow == false
		d.reasons == [{
			"rule": "workflow.forbidden_sequence",
			"message": concat("", [tool, " is not allowed after read_secret in the same session (workflow secret_exfiltration)"]),
			"workflow": "secret_exfiltration",
			"step": tool,
		}]
	}
}

test_outbound_send_without_a_secret_is_allowed if {
	every tool in ["send_email", "http_post"] {
		d := mcp.decision with input as f.call(tool, {"to": "x"}, [f.entry(1, "backup_database", orders, "success")])
		d.allow
	}
}

test_reading_secrets_stays_allowed if {
	d := mcp.decision with input as f.call("read_secret", {"name": "other"}, secret_read)
	d.allow
}

# policy/workflows/customer_onboarding.yaml, end to end through data.mcp.decision.
package workflows_test

import data.fixtures_test as f
import data.mcp

c1 := {"customer_id": "c-1"}

c2 := {"customer_id": "c-2"}

onboarded_c1 := [
	f.entry(1, "validate_customer_data", c1, "success"),
	f.entry(2, "create_account", c1, "success"),
	f.entry(3, "backup_customer_record", c1, "success"),
]

onboarding(name, arguments, history) := d if {
	d := mcp.decision with input as f.call(name, arguments, history)
}

test_onboarding_in_order_is_allowed if {
	onboarding("validate_customer_data", c1, []).allow
	onboarding("create_account", c1, array.slice(onboarded_c1, 0, 1)).allow
	onboarding("backup_customer_record", c1, array.slice(onboarded_c1, 0, 2)).allow
	onboarding("send_welcome_email", c1, onboarded_c1).allow
}

test_create_account_before_validation_is_denied if {
	d := onboarding("create_account", c1, [])
	d.allow == false
	d.reasons == [{
		"rule": "workflow.step_order",
		"message": "validate_customer_data must succeed for customer_id=c-1 before create_account (workflow customer_onboarding)",
		"workflow": "customer_onboarding",
		"step": "create_account",
	}]
}

test_failed_validation_blocks_create_account if {
	d := onboarding("create_account", c1, [f.entry(1, "validate_customer_data", c1, "error")])
	d.reasons[0].message == "validate_customer_data must succeed for customer_id=c-1 before create_account; its last run failed (workflow customer_onboarding)"
}

test_steps_of_one_customer_do_not_open_another if {
	d := onboarding("send_welcome_email", c2, onboarded_c1)
	d.allow == false
	{r.message | some r in d.reasons} == {
		"validate_customer_data must succeed for customer_id=c-2 before send_welcome_email (workflow customer_onboarding)",
		"create_account must succeed for customer_id=c-2 before send_welcome_email (workflow customer_onboarding)",
		"backup_customer_record must succeed for customer_id=c-2 before send_welcome_email (workflow customer_onboarding)",
	}
}

test_two_customers_interleaved if {
	history := [
		f.entry(1, "validate_customer_data", c1, "success"),
		f.entry(2, "validate_customer_data", c2, "success"),
		f.entry(3, "create_account", c2, "success"),
		f.entry(4, "create_account", c1, "success"),
		f.entry(5, "backup_customer_record", c2, "success"),
	]
	onboarding("send_welcome_email", c2, history).allow
	d := onboarding("send_welcome_email", c1, history)
	[r.message | some r in d.reasons] == ["backup_customer_record must succeed for customer_id=c-1 before send_welcome_email (workflow customer_onboarding)"]
}

test_welcome_email_needs_the_backup if {
	d := onboarding("send_welcome_email", c1, array.slice(onboarded_c1, 0, 2))
	[r.message | some r in d.reasons] == ["backup_customer_record must succeed for customer_id=c-1 before send_welcome_email (workflow customer_onboarding)"]
}

test_customer_email_needs_only_validation if {
	onboarding("send_customer_email", c1, [f.entry(1, "validate_customer_data", c1, "success")]).allow
	d := onboarding("send_customer_email", c2, [f.entry(1, "validate_customer_data", c1, "success")])
	[r.message | some r in d.reasons] == ["validate_customer_data must succeed for customer_id=c-2 before send_customer_email (workflow customer_onboarding)"]
}

test_onboarding_call_without_customer_id_is_denied if {
	d := onboarding("create_account", {"name": "Ada"}, onboarded_c1)
	[r.rule | some r in d.reasons] == ["workflow.correlation_missing"]
}

test_onboarding_is_not_audited if {
	onboarding("send_welcome_email", c1, onboarded_c1).obligations == {}
}

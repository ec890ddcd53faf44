# policy/workflows/financial_processing.yaml, end to end through data.mcp.decision.
package workflows_test

import data.fixtures_test as f
import data.mcp

payment := {"payment_id": "p-1", "amount": 250}

checked(seq, arguments, outcome, risk, verdict) := f.entry_with_result(
	seq, "fraud_check", arguments, outcome,
	{"payment_id": arguments.payment_id, "risk_score": risk, "decision": verdict},
)

pay(arguments, history) := d if {
	d := mcp.decision with input as f.call("payment_processing", arguments, history)
}

audit := {"audit": {"required": true}}

test_payment_after_a_clean_fraud_check_is_allowed if {
	d := pay(payment, [checked(1, payment, "success", 0.12, "approve")])
	d == {"allow": true, "reasons": [], "monitored": [], "obligations": audit}
}

test_review_verdict_below_the_threshold_is_allowed if {
	pay(payment, [checked(1, payment, "success", 0.5, "review")]).allow
}

test_payment_without_fraud_check_is_denied if {
	d := pay(payment, [])
	d.allow == false
	d.reasons == [{
		"rule": "workflow.step_order",
		"message": "fraud_check must succeed for payment_id=p-1, amount=250 before payment_processing (workflow financial_processing)",
		"workflow": "financial_processing",
		"step": "payment_processing",
	}]
	d.obligations == audit
}

test_failed_fraud_check_blocks_payment if {
	d := pay(payment, [f.entry(1, "fraud_check", payment, "error")])
	d.allow == false
	d.reasons[0].message == "fraud_check must succeed for payment_id=p-1, amount=250 before payment_processing; its last run failed (workflow financial_processing)"
}

test_high_risk_blocks_payment if {
	d := pay(payment, [checked(1, payment, "success", 0.93, "review")])
	d.allow == false
	d.reasons == [{
		"rule": "workflow.result_rejected",
		"message": "payment_processing blocked: fraud_check for payment_id=p-1, amount=250 returned risk_score 0.93 (blocked when risk_score >= 0.8) (workflow financial_processing)",
		"workflow": "financial_processing",
		"step": "payment_processing",
	}]
}

test_reject_verdict_blocks_payment if {
	d := pay(payment, [checked(1, payment, "success", 0.3, "reject")])
	[r.message | some r in d.reasons] == ["payment_processing blocked: fraud_check for payment_id=p-1, amount=250 returned decision reject (blocked when decision = reject) (workflow financial_processing)"]
}

test_fraud_check_of_another_payment_or_amount_does_not_count if {
	other := {"payment_id": "p-2", "amount": 250}
	pay(payment, [checked(1, other, "success", 0.1, "approve")]).allow == false
	smaller := {"payment_id": "p-1", "amount": 10}
	pay(payment, [checked(1, smaller, "success", 0.1, "approve")]).allow == false
}

test_financial_tools_are_audited if {
	every tool in ["fraud_check", "payment_processing", "refund_payment"] {
		d := mcp.decision with input as f.call(tool, payment, [])
		d.obligations == audit
	}
}

test_refund_is_not_gated if {
	d := mcp.decision with input as f.call("refund_payment", payment, [])
	d.allow
}

test_payment_rate_is_monitored_not_enforced if {
	history := [checked(n, payment, "success", 0.1, "approve") | some n in numbers.range(1, 10)]
	paid := [f.at(f.entry(n + 10, "payment_processing", payment, "success"), f.now_ms - (n * 1000)) | some n in numbers.range(1, 10)]
	many := array.concat(history, paid)
	d := pay(payment, many)
	d.allow
	d.monitored == [{
		"rule": "workflow.rate_limit",
		"message": "payment_processing is limited to 10 calls per 60 s; 10 ran in the last 60 s (workflow financial_processing)",
		"workflow": "financial_processing",
		"step": "payment_processing",
	}]
}

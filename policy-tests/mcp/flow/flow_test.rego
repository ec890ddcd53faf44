# The flow rule (policy/mcp/flow/, data.flow in policy/flow.yaml) through data.mcp.decision: after
# a result labelled secret or pii in the agent run, any call that can send data out is held for a
# security officer's approval.
package mcp.flow_test

import data.fixtures_test as f
import data.mcp
import data.mcp.flow

trace(entries) := [f.scoped(e, "trace") | some e in entries]

secret := trace([f.labelled(f.entry(1, "read_file", {"path": ".env"}, "success"), ["secret"])])

pii := trace([f.labelled(f.entry(1, "lookup_customer", {"id": "c-1"}, "success"), ["pii"])])

# fetch is a tool no rule names, annotated open-world by its server.
fetch(history) := f.open_world(f.call("fetch", {"url": "https://x.example"}, history))

decide(doc) := d if {
	d := mcp.decision with input as doc
}

allowed := {"allow": true, "reasons": [], "monitored": [], "obligations": {}}

# held: the approval request; the flow rule's own reason stands beside it if nobody approves.
held(reason, approvers) := {"approval": {
	"required": true,
	"reason": reason,
	"approvers": approvers,
	"allow_self_approval": false,
	"reasons": [{"rule": "flow.sensitive_to_open_world", "message": trim_suffix(reason, " [flow.sensitive_to_open_world]")}],
}}

after_secret := "fetch can send data out (openWorldHint) after a result labelled secret (from read_file) in the same agent run"

test_an_open_world_call_after_a_secret_is_held_for_a_security_officer if {
	d := decide(fetch(secret))
	d.allow
	d.reasons == []
	d.obligations == held(concat("", [after_secret, " [flow.sensitive_to_open_world]"]), ["security-officer"])
}

test_an_open_world_call_after_personal_data_is_held if {
	d := decide(fetch(pii))
	d.obligations.approval.reason == concat("", [
		"fetch can send data out (openWorldHint) after a result labelled pii (from lookup_customer)",
		" in the same agent run [flow.sensitive_to_open_world]",
	])
}

test_several_tainting_results_are_named_once_each if {
	both := array.concat(secret, array.concat(pii, trace([f.labelled(f.entry(3, "read_file", {}, "success"), ["secret", "pii"])])))
	decide(fetch(both)).obligations.approval.reason == concat("", [
		"fetch can send data out (openWorldHint) after a result labelled pii, secret (from lookup_customer, read_file)",
		" in the same agent run [flow.sensitive_to_open_world]",
	])
}

test_a_sink_without_annotations_is_held if {
	d := decide(f.call("http_post", {"url": "https://x.example"}, secret))
	d.obligations.approval.reason == concat("", [
		"http_post can send data out (a sink in policy/flow.yaml) after a result labelled secret (from read_file)",
		" in the same agent run [flow.sensitive_to_open_world]",
	])
}

test_a_call_that_cannot_send_data_out_is_allowed if {
	decide(f.call("fetch", {}, secret)) == allowed
	closed := object.union(f.call("fetch", {}, secret), {"call": {"annotations": {"openWorldHint": false}}})
	decide(closed) == allowed
}

test_without_a_tainting_label_an_open_world_call_is_allowed if {
	decide(fetch([])) == allowed
	decide(fetch(trace([f.entry(1, "read_file", {}, "success")]))) == allowed
	decide(fetch(trace([f.labelled(f.entry(1, "read_page", {}, "success"), ["injection"])]))) == allowed
}

test_a_label_in_another_scope_does_not_taint_the_run if {
	every scope in ["session", "principal", "global"] {
		other := [f.scoped(f.labelled(f.entry(1, "read_file", {}, "success"), ["secret"]), scope)]
		decide(fetch(other)) == allowed
	}
}

test_a_denied_call_returned_nothing if {
	denied := trace([f.labelled(f.entry(1, "read_file", {}, "denied"), ["secret"])])
	decide(fetch(denied)) == allowed
	failed := trace([f.labelled(f.entry(1, "read_file", {}, "error"), ["secret"])])
	decide(fetch(failed)).obligations.approval.approvers == ["security-officer"]
}

test_a_history_without_scopes_is_the_sessions if {
	unscoped := [f.labelled(f.entry(1, "read_file", {}, "success"), ["secret"])]
	decide(fetch(unscoped)).obligations.approval.reason == concat("", [
		"fetch can send data out (openWorldHint) after a result labelled secret (from read_file)",
		" in the same session [flow.sensitive_to_open_world]",
	])
}

test_the_calls_own_approval_lets_it_through_once if {
	approved := f.open_world(f.call_with_approvals("fetch", {}, secret, [f.approval("fetch")]))
	decide(approved) == allowed

	earlier := f.open_world(f.call_with_approvals("fetch", {}, secret, [f.approval_of("fetch", "call-0")]))
	decide(earlier).obligations.approval.approvers == ["security-officer"]
}

test_a_step_approval_and_the_flow_rule_merge_into_one_request if {
	api := {"service": "api"}
	green := [
		f.scoped(f.entry(2, "run_tests", api, "success"), "global"),
		f.scoped(f.entry(3, "security_scan", api, "success"), "global"),
	]
	doc := f.open_world(f.call("deploy_to_production", api, array.concat(secret, green)))
	approval := decide(doc).obligations.approval
	approval.approvers == ["release-manager", "security-officer"]
	approval.reason == concat("", [
		"deploy_to_production can send data out (openWorldHint) after a result labelled secret (from read_file)",
		" in the same agent run [flow.sensitive_to_open_world]; production deploy needs a release manager",
	])
}

test_no_approval_is_asked_for_a_call_denied_anyway if {
	doc := f.open_world(f.call("deploy_to_production", {"service": "api"}, secret))
	d := decide(doc)
	not d.allow
	d.obligations == {}
}

test_monitor_mode_only_logs if {
	d := decide(fetch(secret)) with data.flow.mode as "monitor"
	d == {
		"allow": true,
		"reasons": [],
		"monitored": [{"rule": "flow.sensitive_to_open_world", "message": after_secret}],
		"obligations": {},
	}
}

test_data_flow_names_the_scope_labels_sinks_and_approvers if {
	settings := {"scope": "principal", "labels": ["injection"], "sinks": ["publish"], "approvers": ["ciso", "dpo"]}
	mine := [f.scoped(f.labelled(f.entry(1, "read_page", {}, "success"), ["injection"]), "principal")]
	d := decide(f.call("publish", {}, mine)) with data.flow as settings
	d.obligations.approval.approvers == ["ciso", "dpo"]
	d.obligations.approval.reason == concat("", [
		"publish can send data out (a sink in policy/flow.yaml) after a result labelled injection (from read_page)",
		" by the same principal [flow.sensitive_to_open_world]",
	])
	decide(fetch(secret)) == allowed with data.flow as settings
}

test_defaults_fill_what_data_flow_leaves_out if {
	d := decide(fetch(secret)) with data.flow as {}
	d.obligations.approval.approvers == ["security-officer"]
}

test_without_data_flow_the_rule_is_off if {
	count(flow.approval) == 0 with input as fetch(secret)
		with data.flow as null
	count(flow.deny) == 0 with input as fetch(secret)
		with data.flow as null
}

test_shipped_settings_are_valid if {
	flow.errors == set()
	flow.valid
}

test_invalid_settings_block_calls_that_can_send_data_out if {
	bad := {"scope": "team", "labels": "secret", "approvers": [], "mode": "enforced", "sink": ["x"]}
	d := decide(fetch([])) with data.flow as bad
	d.reasons == [{"rule": "flow.invalid_settings", "message": concat("", [
		"policy/flow.yaml (data.flow) is invalid (",
		"approvers must name at least one role; labels must be a list of names; ",
		"mode must be one of enforce, monitor, got enforced; scope must be one of global, principal, session, trace, ",
		"got team; unknown key sink",
		"); calls that can send data out are blocked until it is fixed",
	])}]
	decide(f.call("read_file", {}, [])) == allowed with data.flow as bad
}

test_settings_that_are_not_an_object_block_too if {
	d := decide(fetch([])) with data.flow as ["secret"]
	[r.message | some r in d.reasons] == [concat("", [
		"policy/flow.yaml (data.flow) is invalid (must be an object, got [\"secret\"]);",
		" calls that can send data out are blocked until it is fixed",
	])]
}

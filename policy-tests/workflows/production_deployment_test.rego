# policy/workflows/production_deployment.yaml, end to end through data.mcp.decision.
package workflows_test

import data.fixtures_test as f
import data.mcp

api := {"service": "api"}

green_api := [
	f.entry_with_result(1, "run_tests", api, "success", {"passed": 12, "failed": 0}),
	f.entry(2, "security_scan", api, "success"),
]

deploy(arguments, history, approvals) := d if {
	d := mcp.decision with input as f.call_with_approvals("deploy_to_production", arguments, history, approvals)
}

approval_obligation := {"approval": {
	"required": true,
	"reason": "production deploy needs a release manager",
	"approvers": ["release-manager"],
	"allow_self_approval": false,
}}

test_green_build_asks_for_approval if {
	d := deploy(api, green_api, [])
	d == {"allow": true, "reasons": [], "monitored": [], "obligations": approval_obligation}
}

test_approved_green_build_deploys if {
	d := deploy(api, green_api, [f.approval("deploy_to_production")])
	d == {"allow": true, "reasons": [], "monitored": [], "obligations": {}}
}

test_each_deploy_needs_its_own_approval if {
	history := array.concat(green_api, [f.entry(3, "deploy_to_production", api, "success")])
	deploy(api, history, [f.approval_of("deploy_to_production", "call-3")]).obligations == approval_obligation
}

test_a_deploy_cannot_use_the_approval_of_one_still_running if {
	# svc-x's approved deploy is running downstream (not in history yet) when svc-y's is decided:
	# more approvals than deploy runs, but none of them is svc-y's.
	x := {"service": "svc-x"}
	y := {"service": "svc-y"}
	green := [
		f.entry(1, "run_tests", x, "success"), f.entry(2, "security_scan", x, "success"),
		f.entry(3, "run_tests", y, "success"), f.entry(4, "security_scan", y, "success"),
	]
	deploy(y, green, [f.approval_of("deploy_to_production", "call-x")]).obligations == approval_obligation
	deploy(y, green, [f.approval("deploy_to_production")]).obligations == {}
}

test_a_release_manager_with_the_self_approver_role_may_approve_their_own_deploy if {
	doc := f.call_with_approvals("deploy_to_production", api, green_api, [])
	solo := {"sub": "alice", "roles": ["release-manager", "self-approver"], "claims": {}}
	d := mcp.decision with input as object.union(doc, {"principal": solo})
	d.obligations.approval.allow_self_approval == true
}

test_deploy_without_tests_is_denied if {
	d := deploy(api, [], [f.approval("deploy_to_production")])
	d.allow == false
	{r.message | some r in d.reasons} == {
		"run_tests must succeed for service=api before deploy_to_production (workflow production_deployment)",
		"security_scan must succeed for service=api before deploy_to_production (workflow production_deployment)",
	}
	d.obligations == {}
}

test_deploy_without_scan_is_denied if {
	d := deploy(api, array.slice(green_api, 0, 1), [])
	[r.message | some r in d.reasons] == ["security_scan must succeed for service=api before deploy_to_production (workflow production_deployment)"]
}

test_security_scan_needs_tests_first if {
	d := mcp.decision with input as f.call("security_scan", api, [])
	[r.message | some r in d.reasons] == ["run_tests must succeed for service=api before security_scan (workflow production_deployment)"]
}

test_later_failing_tests_close_the_gate if {
	history := array.concat(green_api, [f.entry_with_result(3, "run_tests", api, "error", {"passed": 11, "failed": 1})])
	d := deploy(api, history, [f.approval("deploy_to_production")])
	d.allow == false
	[r.message | some r in d.reasons] == ["run_tests must succeed for service=api before deploy_to_production; its last run failed (workflow production_deployment)"]
}

test_green_api_does_not_deploy_web if {
	d := deploy({"service": "web"}, green_api, [f.approval("deploy_to_production")])
	count(d.reasons) == 2
}

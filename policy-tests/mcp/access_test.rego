# data.mcp.visible (what each principal sees in its lists) and access.role_required in
# data.mcp.decision, against policy/access.yaml and against access maps given here.
package mcp_test

import data.fixtures_test as f
import data.mcp

ci_tools := [
	{"name": "run_tests", "server": "ci"},
	{"name": "security_scan", "server": "ci", "annotations": {"readOnlyHint": true}},
	{"name": "deploy_to_production", "server": "ci", "annotations": {"destructiveHint": true}},
]

list_input(kind, roles, items) := {
	"version": 1,
	"kind": kind,
	"principal": {"sub": "carol", "roles": roles, "claims": {}},
	"session": {"id": "s-1", "client": {"name": "test", "version": "1"}},
	"items": items,
}

visible_to(roles) := names if {
	names := mcp.visible with input as list_input("tool", roles, ci_tools)
}

test_shipped_access_shows_deploy_to_release_managers_and_developers if {
	every roles in [["release-manager"], ["developer"], ["admin", "developer"]] {
		visible_to(roles) == {"run_tests", "security_scan", "deploy_to_production"}
	}
}

test_shipped_access_hides_deploy_from_other_roles if {
	every roles in [[], ["admin"], ["approver"]] {
		visible_to(roles) == {"run_tests", "security_scan"}
	}
}

test_unlisted_tools_are_visible_to_everyone if {
	mcp.visible == {"echo"} with input as list_input("tool", [], [{"name": "echo", "server": "x"}])
}

test_access_map_is_data if {
	only_ops := {"run_tests": ["ops"]}
	mcp.visible == {"security_scan", "deploy_to_production"} with input as list_input("tool", [], ci_tools)
		with data.access as only_ops
	mcp.visible == {"run_tests", "security_scan", "deploy_to_production"} with input as list_input("tool", ["ops"], ci_tools)
		with data.access as only_ops
}

test_resources_templates_and_prompts_are_not_filtered if {
	resources := [{"name": "readme", "server": "docs", "uri": "file:///readme"}]
	mcp.visible == {"file:///readme"} with input as list_input("resource", [], resources)
	templates := [{"name": "deploy_to_production", "server": "docs", "uri": "file:///{path}"}]
	mcp.visible == {"deploy_to_production"} with input as list_input("resource_template", [], templates)
	prompts := [{"name": "deploy_to_production", "server": "docs"}]
	mcp.visible == {"deploy_to_production"} with input as list_input("prompt", [], prompts)
}

test_a_resource_without_a_uri_is_not_visible if {
	count(mcp.visible) == 0 with input as list_input("resource", [], [{"name": "readme", "server": "docs"}])
}

test_visible_is_empty_for_an_input_without_items if {
	count(mcp.visible) == 0 with input as {"version": 1, "kind": "tool"}
}

as_principal(name, roles) := object.union(f.call(name, {"service": "api"}, []), {"principal": {"sub": "carol", "roles": roles, "claims": {}}})

test_calling_a_hidden_tool_is_denied_naming_the_roles if {
	d := mcp.decision with input as as_principal("deploy_to_production", ["admin"])
	d.allow == false
	{"rule": "access.role_required", "message": "deploy_to_production needs one of the roles developer, release-manager (policy/access.yaml); carol holds admin"} in d.reasons
	no_roles := mcp.decision with input as as_principal("deploy_to_production", [])
	{"rule": "access.role_required", "message": "deploy_to_production needs one of the roles developer, release-manager (policy/access.yaml); carol holds no role"} in no_roles.reasons
}

test_a_listed_role_passes_the_role_check if {
	d := mcp.decision with input as as_principal("deploy_to_production", ["developer"])
	every reason in d.reasons {
		reason.rule != "access.role_required"
	}

	# and the workflow still gates the deploy: the role check adds to it, it does not replace it
	d.allow == false
}

test_an_unlisted_tool_is_allowed_for_any_principal if {
	d := mcp.decision with input as as_principal("echo", [])
	d.allow == true
}

test_resource_reads_are_not_role_checked if {
	doc := object.union(as_principal("deploy_to_production", []), {"call": {"kind": "resource"}})
	d := mcp.decision with input as doc
	every reason in d.reasons {
		reason.rule != "access.role_required"
	}
}

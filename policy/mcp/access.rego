# Who sees which tools: data.mcp.visible (entrypoint mcp/visible), and the role check that
# data.mcp.decision enforces on every call (access.role_required).
#
# Warden evaluates visible once per list page (tools/list, resources/list,
# resources/templates/list, prompts/list) with the input
#   {"version": 1, "kind": "tool" | "resource" | "resource_template" | "prompt",
#    "principal": {...}, "session": {"id", "client"}, "items": [{"name", "server", "annotations"?, "uri"?}]}
# and lists only the items whose name (uri for resources) it returns. The input has no history on
# purpose: what a client may see must not change as a side effect of its other calls.
#
# The roles come from data.access (policy/access.yaml): tool name -> roles of which a principal
# needs one. Tools it does not name are visible to everyone, and so is every resource, resource
# template and prompt: access.yaml speaks of tools only.
package mcp

# visible: the names (uris for resources) of input.items this principal may see.
visible contains item_key(item) if {
	some item in input.items
	input.kind != "tool"
}

visible contains item.name if {
	some item in input.items
	input.kind == "tool"
	may_use(item.name)
}

item_key(item) := item.uri if input.kind == "resource"

item_key(item) := item.name if input.kind != "resource"

# may_use(tool) holds when the principal holds one of the roles data.access lists for tool, or
# when data.access does not list tool at all.
may_use(tool) if not data.access[tool]

may_use(tool) if {
	some role in object.get(input, ["principal", "roles"], [])
	role in data.access[tool]
}

# access_denials: the reason a call of a tool this principal may not use is denied (see
# data.mcp.decision, which collects it).
access_denials contains {"rule": "access.role_required", "message": message} if {
	input.call.kind == "tool"
	not may_use(input.call.name)
	message := concat("", [
		input.call.name, " needs one of the roles ", concat(", ", sort(data.access[input.call.name])),
		" (policy/access.yaml); ", principal_name, " ", held_roles,
	])
}

principal_name := object.get(input, ["principal", "sub"], "this principal")

held_roles := "holds no role" if count(principal_roles) == 0

else := concat("", ["holds ", concat(", ", sort(principal_roles))])

principal_roles := {role | some role in object.get(input, ["principal", "roles"], [])}

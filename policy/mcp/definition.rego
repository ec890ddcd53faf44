# The entrypoint Warden evaluates for each tool definition it has not checked yet: data.mcp.definition
# (opa build -e mcp/definition). Tool poisoning hides instructions for the model in a tool's
# description or in its schemas' descriptions; Warden pins each tool's definition and holds a
# definition this check finds something in (rule warden.tool_suspicious) until an admin accepts it
# (docs/tool-pinning.md).
#
# input: {"version": 1, "server": "<server>", "tool": {"name", "description", "inputSchema",
#         "outputSchema", "annotations"}} (the fields Warden pins, as the server sent them).
# The answer is always defined:
#   {"findings": [{"kind": "<detector kind>", "path": "<JSON pointer in input.tool>", "text": "..."}]}
# sorted; [] when the definition is clean. The detectors are the injection family of
# policy/lib/detect.rego, run on every string of the definition.
package mcp

import data.lib

default definition := {"findings": []}

definition := {"findings": sort([finding | some finding in definition_findings])}

definition_findings contains {"kind": found.kind, "path": path, "text": found.text} if {
	some [path, text] in definition_texts
	some found in lib.findings(text)
	found.family == "injection"
}

# definition_texts: [JSON pointer, string] for every string of the tool's definition.
definition_texts contains [definition_pointer(path), value] if {
	is_object(input.tool)
	walk(input.tool, [path, value])
	is_string(value)
}

definition_pointer(path) := concat("", [concat("", ["/", definition_segment(segment)]) | some segment in path])

definition_segment(segment) := replace(replace(sprintf("%v", [segment]), "~", "~0"), "/", "~1")

# Checks the workflow templates themselves. A template with a typo (`corelate:`, `must: suceed`,
# an unknown `requires`) would otherwise be silently ignored, which fails open. Instead, each
# call to a tool of a broken workflow is denied with the error (invalid_template), while tools of
# other workflows and tools outside every workflow keep working. policy-tests asserts that the
# shipped templates have no errors, so a bad template also fails `make test`.
package mcp.workflow

import data.lib

# entries: every part of every template, as {workflow, kind, where, entry}, so that key, enum
# and type checks are written once for all kinds.
entries contains {"workflow": name, "kind": "workflow", "where": "workflow", "entry": template} if {
	some name, template in templates
}

entries contains part(name, "step", concat("", ["steps[", lib.show(i), "]"]), step) if {
	some name, template in templates
	some i, step in array_at(template, "steps")
}

entries contains part(name, "approval", concat("", ["steps[", lib.show(i), "].approval"]), step.approval) if {
	some name, template in templates
	some i, step in array_at(template, "steps")
	step.approval
}

entries contains part(name, "condition", concat("", ["steps[", lib.show(i), "].reject_if[", lib.show(j), "]"]), condition) if {
	some name, template in templates
	some i, step in array_at(template, "steps")
	some j, condition in array_at(step, "reject_if")
}

entries contains part(name, "forbidden", concat("", ["forbidden[", lib.show(i), "]"]), rule) if {
	some name, template in templates
	some i, rule in array_at(template, "forbidden")
}

entries contains part(name, "rate_limit", concat("", ["rate_limits[", lib.show(i), "]"]), limit) if {
	some name, template in templates
	some i, limit in array_at(template, "rate_limits")
}

part(name, kind, where, entry) := {"workflow": name, "kind": kind, "where": where, "entry": entry}

array_at(obj, key) := obj[key] if is_array(obj[key])

default array_at(_, _) := []

modes := {"enforce", "monitor"}

keys := {
	"workflow": {"description", "mode", "scope", "correlate", "audit", "steps", "tools", "forbidden", "rate_limits"},
	"step": {"tool", "must", "approval", "correlate", "requires", "reject_if", "mode", "description"},
	"approval": {"required", "approvers", "reason", "scope"},
	"condition": {"field", "op", "value", "message"},
	"forbidden": {"after", "then", "when", "mode", "message", "description"},
	"rate_limit": {"tool", "max", "window_ms", "mode", "description"},
}

required_keys := {
	"step": {"tool"},
	"condition": {"field", "op", "value"},
	"forbidden": {"after", "then"},
	"rate_limit": {"tool", "max", "window_ms"},
}

enums := {
	"workflow": {"mode": modes, "scope": lib.scopes, "audit": {"required", "none"}},
	"step": {"must": {"run", "succeed"}, "mode": modes},
	"approval": {"scope": {"call", "session"}},
	"condition": {"op": object.keys(op_text)},
	"forbidden": {"when": {"run", "succeed"}, "mode": modes},
	"rate_limit": {"mode": modes},
}

types := {
	"workflow": {
		"description": "string", "correlate": "array", "steps": "array", "tools": "array",
		"forbidden": "array", "rate_limits": "array",
	},
	"step": {
		"tool": "string", "approval": "object", "correlate": "array", "requires": "array",
		"reject_if": "array", "description": "string",
	},
	"approval": {"required": "boolean", "approvers": "array", "reason": "string"},
	"condition": {"field": "string", "message": "string"},
	"forbidden": {"after": "array", "then": "array", "message": "string", "description": "string"},
	"rate_limit": {"tool": "string", "max": "number", "window_ms": "number", "description": "string"},
}

# errors: every problem in every template, as {workflow, message}.
errors contains error(e, concat("", ["must be an object, got ", lib.show(e.entry)])) if {
	some e in entries
	not is_object(e.entry)
}

errors contains error(e, concat("", ["unknown key ", key, " (allowed: ", concat(", ", sort(keys[e.kind])), ")"])) if {
	some e in entries
	is_object(e.entry)
	some key, _ in e.entry
	not key in keys[e.kind]
}

errors contains error(e, concat("", ["missing key ", key])) if {
	some e in entries
	is_object(e.entry)
	some key in required_keys[e.kind]
	not has_key(e.entry, key)
}

errors contains error(e, concat("", [key, " must be one of ", concat(", ", sort(allowed)), ", got ", lib.show(value)])) if {
	some e in entries
	some key, allowed in enums[e.kind]
	value := e.entry[key]
	not value in allowed
}

errors contains error(e, concat("", [key, " must be ", article[expected], expected, ", got ", type_name(value)])) if {
	some e in entries
	some key, expected in types[e.kind]
	value := e.entry[key]
	type_name(value) != expected
}

errors contains error(e, concat("", ["tool ", tool, " appears in more than one step"])) if {
	some e in entries
	e.kind == "workflow"
	some tool in {step.tool | some step in array_at(e.entry, "steps")}
	count([step | some step in array_at(e.entry, "steps"); step.tool == tool]) > 1
}

errors contains error(e, concat("", ["requires ", tool, ", which is not a step of this workflow"])) if {
	some e in entries
	e.kind == "step"
	some tool in array_at(e.entry, "requires")
	not tool in {step.tool | some step in array_at(templates[e.workflow], "steps")}
}

errors contains error(e, "required approval needs a non-empty approvers list") if {
	some e in entries
	e.kind == "approval"
	e.entry.required == true
	count(array_at(e.entry, "approvers")) == 0
}

article := {"array": "an ", "object": "an ", "string": "a ", "number": "a ", "boolean": "a "}

error(e, message) := {"workflow": e.workflow, "message": concat("", [e.where, ": ", message])}

# invalid_template: the current call belongs to a workflow with errors.
invalid_template contains entry if {
	some name, template in templates
	input.call.name in involved(template)
	some err in errors
	err.workflow == name
	entry := {
		"rule": "workflow.invalid_template",
		"message": concat("", ["workflow ", name, " is invalid (", err.message, "); its tools are blocked until it is fixed"]),
		"workflow": name,
		"step": input.call.name,
		"mode": mode(template, {}),
	}
}

# involved: every tool a template names as a step, member, forbidden follower or rate limit.
involved(template) := (members(template) | {tool |
	some rule in array_at(template, "forbidden")
	some tool in rule.then
}) | {limit.tool | some limit in array_at(template, "rate_limits")}

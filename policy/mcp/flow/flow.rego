# Flow rules without tool names, driven by data.flow (policy/flow.yaml).
#
# flow.sensitive_to_open_world: once a result labelled secret or pii (by the result policy,
# data.mcp.result, which Warden records with the call as history[].labels) reached the agent in
# data.flow.scope, a call that can send data out needs a human approval: a tool on any server whose
# annotations say openWorldHint: true, or one data.flow.sinks names. The rule names no source tool:
# whatever returned the label taints the run.
#
# It is an approval, not a plain denial, so that the one legitimate send after a secret can go
# through: data.mcp.decision turns each enforced entry of `approval` into obligations.approval
# (merged with the workflow engine's), Warden holds the call and asks one of data.flow.approvers;
# their approval, bound to this call (lib.approved), lets exactly this call through. When nobody
# approves, Warden denies it (warden.approval_required) with the reason, which ends in
# [flow.sensitive_to_open_world]. In mode monitor the entry is only logged as would-deny.
#
# Cost: the rule starts from the current call (its annotations and name, O(1)); only a call that
# can send data out reads history, in one pass. The history it reads is declared in
# policy/mcp/history/reads.rego: per label, the newest entry of the scope that carries it.
package mcp.flow

import data.lib

rule := "flow.sensitive_to_open_world"

# settings: data.flow over its defaults. Undefined, and the rule off, when the policy has no data.flow
# (or an empty `flow:`, null).
defaults := {
	"scope": "trace",
	"labels": ["secret", "pii"],
	"sinks": [],
	"approvers": ["security-officer"],
	"mode": "enforce",
}

settings := object.union(defaults, data.flow) if is_object(data.flow)

# --- validation -------------------------------------------------------------------------------

# errors: what is wrong with data.flow. A typo would otherwise fail open (an unknown scope reads
# no history, a misspelt key is ignored), so invalid settings block every call that can send data
# out (flow.invalid_settings) until they are fixed.
errors contains concat("", ["must be an object, got ", lib.show(data.flow)]) if {
	not is_object(data.flow)
	not is_null(data.flow)
}

errors contains concat("", ["unknown key ", key]) if {
	some key, _ in data.flow
	not key in object.keys(defaults)
}

errors contains concat("", [
	"scope must be one of ", concat(", ", sort(lib.scopes)), ", got ", lib.show(settings.scope),
]) if {
	not settings.scope in lib.scopes
}

errors contains concat("", [key, " must be a list of names"]) if {
	some key in ["labels", "sinks", "approvers"]
	not names(settings[key])
}

errors contains "approvers must name at least one role" if count(settings.approvers) == 0

errors contains concat("", ["mode must be one of enforce, monitor, got ", lib.show(settings.mode)]) if {
	not settings.mode in {"enforce", "monitor"}
}

names(value) if {
	is_array(value)
	every name in value {
		is_string(name)
	}
}

# valid: data.flow is there and has no error; only then does the rule run and declare its reads.
default valid := false

valid if {
	settings
	count(errors) == 0
}

deny contains {"rule": "flow.invalid_settings", "message": message} if {
	outbound
	count(errors) > 0
	message := concat("", [
		"policy/flow.yaml (data.flow) is invalid (", concat("; ", sort(errors)), "); calls that can send data ",
		"out are blocked until it is fixed",
	])
}

# --- the rule ---------------------------------------------------------------------------------

# outbound: how the current call can send data out: its annotations say so, or data.flow names it.
outbound := "(openWorldHint)" if {
	input.call.annotations.openWorldHint == true
} else := "(a sink in policy/flow.yaml)" if {
	input.call.name in settings.sinks
}

# scope: the scope whose entries taint, or the session when the history carries no scopes at all.
scope := lib.readable_scope(settings.scope)

# tainting: the entries of scope that ran and returned a result with a label of data.flow.labels.
tainting := [entry |
	some entry in lib.in_scope(scope)
	lib.ran(entry)
	some label in object.get(entry, "labels", [])
	label in settings.labels
]

# sensitive_to_open_world: the message, when the current call can send data out after a tainting
# result; undefined otherwise.
sensitive_to_open_world := message if {
	how := outbound
	valid
	count(tainting) > 0
	labels := {label | some entry in tainting; some label in entry.labels; label in settings.labels}
	sources := {entry.name | some entry in tainting}
	message := concat("", [
		input.call.name, " can send data out ", how, " after a result labelled ", concat(", ", sort(labels)),
		" (from ", concat(", ", sort(sources)), ") ", lib.scope_words[scope],
	])
}

# approval: the approval the current call needs, unless it holds its own (one approval, one call).
approval contains {
	"rule": rule,
	"message": message,
	"reason": concat("", [message, " [", rule, "]"]),
	"approvers": settings.approvers,
	"mode": mode,
} if {
	message := sensitive_to_open_world
	not lib.approved(input.call.name)
}

# mode: anything but monitor enforces, but validation reports it, so a typo fails closed.
mode := "monitor" if settings.mode == "monitor"

else := "enforce"

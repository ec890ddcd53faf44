# The generic workflow engine: one set of rules that enforces every template in data.workflows
# (one YAML file per workflow under policy/workflows/). Adding a workflow is writing data only;
# docs/policies.md describes the template format.
#
# Everything this package emits carries a "mode" ("enforce" or "monitor"); data.mcp.decision
# routes enforced entries to reasons (or obligations) and monitored ones to monitored.
#
# History scopes: a template's `scope` (default session) says whose calls its rules read: this
# session's, this agent run's (trace), this principal's, or everyone's (global). The rules only
# read history entries drawn from that scope; policy/mcp/history/reads.rego declares them to Warden.
#
# Cost: the rules start from the current call's name and only then read history, so a call to
# a tool outside every workflow costs a walk over the (small) templates and nothing else.
package mcp.workflow

import data.lib

# templates is every declared workflow, keyed by name.
default templates := {}

templates := data.workflows

# --- where the current call sits --------------------------------------------------------------

# call_steps: each workflow step whose tool is the current call.
call_steps contains {"workflow": name, "index": i, "step": step} if {
	some name, template in templates
	some i, step in steps(template)
	step.tool == input.call.name
}

steps(template) := object.get(template, "steps", [])

# mode(template, entry) is the mode of a step, forbidden rule or rate limit: its own mode, else
# the workflow's, else enforce. Anything but "monitor" enforces, so a typo fails closed.
mode(template, entry) := "monitor" if {
	object.get(entry, "mode", object.get(template, "mode", "enforce")) == "monitor"
} else := "enforce"

# declared_scope(template): the scope the template's rules read, as the template says.
declared_scope(template) := object.get(template, "scope", "session")

# history_scope(template): the scope the engine reads for template in this input: the declared
# one, or "session" when the host sent history without scopes (see lib.readable_scope).
history_scope(template) := lib.readable_scope(declared_scope(template))

# correlate_keys: the arguments that tie a step to its earlier steps (same subject).
correlate_keys(template, step) := object.get(step, "correlate", object.get(template, "correlate", []))

# required(template, i, step): the steps that must be done before step i. Default: every
# earlier step, so a gate closes again when any of them fails later; `requires` picks some.
required(template, i, step) := [prior | some j, prior in steps(template); j < i] if not step.requires

required(template, _, step) := [prior |
	some tool in step.requires
	some prior in steps(template)
	prior.tool == tool
] if step.requires

# gates: one per (current step, required earlier step).
gates contains gate if {
	some current in call_steps
	template := templates[current.workflow]
	some prior in required(template, current.index, current.step)
	gate := {
		"workflow": current.workflow,
		"step": current.step.tool,
		"prior": prior,
		"keys": correlate_keys(template, current.step),
		"scope": history_scope(template),
		"mode": mode(template, current.step),
	}
}

violation(gate, rule, message) := {
	"rule": concat(".", ["workflow", rule]),
	"message": message,
	"workflow": gate.workflow,
	"step": gate.step,
	"mode": gate.mode,
}

in_workflow(name) := concat("", [" (workflow ", name, ")"])

# --- state of an earlier step -----------------------------------------------------------------

# last_state(scope, tool, pattern): how the latest run of tool for this subject, among the calls
# of scope, ended: "success", "error" or "none". For the session without correlation the summary
# answers (complete, O(1)); otherwise one pass over the scope's history, where a call older than
# the history window (or not declared in data.mcp.history.reads) reads as "none" (fail closed).
default last_state(_, _, _) := "none"

last_state(scope, tool, pattern) := lib.last_run_outcome(tool) if summary_answers(scope, pattern)

last_state(scope, tool, pattern) := lib.last_run_in(scope, tool, pattern).outcome if {
	not summary_answers(scope, pattern)
}

# summary_answers: input.summary is the session's, per tool: it cannot answer for another scope,
# nor for one subject.
summary_answers("session", pattern) if count(pattern) == 0

satisfied("succeed", "success") := true

satisfied("run", "success") := true

satisfied("run", "error") := true

must(step) := object.get(step, "must", "succeed")

subject(_, pattern) := "" if count(pattern) == 0

subject(keys, pattern) := concat("", [" for ", lib.describe(keys, pattern)]) if count(pattern) > 0

# --- rules ------------------------------------------------------------------------------------

# step_order: an earlier step has not run / not succeeded (for this subject).
step_order contains violation(gate, "step_order", message) if {
	some gate in gates
	pattern := lib.call_pattern(gate.keys)
	state := last_state(gate.scope, gate.prior.tool, pattern)
	not satisfied(must(gate.prior), state)
	message := concat("", [
		gate.prior.tool, " must ", must(gate.prior), subject(gate.keys, pattern),
		" before ", gate.step, state_note(state), in_workflow(gate.workflow),
	])
}

state_note("error") := "; its last run failed"

state_note(state) := "" if state != "error"

# correlation_missing: the current call lacks an argument its workflow correlates on, so its
# earlier steps cannot be matched to it. Denied rather than checked against any subject.
correlation_missing contains violation(gate, "correlation_missing", message) if {
	some gate in gates
	missing := lib.missing_args(gate.keys)
	count(missing) > 0
	message := concat("", [
		gate.step, " needs argument ", concat(", ", missing),
		" to be matched with its earlier steps", in_workflow(gate.workflow),
	])
}

# result_rejected: an earlier step succeeded but its result trips one of its reject_if
# conditions (e.g. fraud_check risk_score >= 0.8). A result that is not an object, or lacks the
# field, rejects too: the policy cannot tell that it is safe.
result_rejected contains violation(gate, "result_rejected", message) if {
	some gate in gates
	some condition in object.get(gate.prior, "reject_if", [])
	pattern := lib.call_pattern(gate.keys)
	last_state(gate.scope, gate.prior.tool, pattern) == "success"
	why := rejection(condition, last_result(gate.scope, gate.prior.tool, pattern))
	message := concat("", [
		gate.step, " blocked: ", gate.prior.tool, subject(gate.keys, pattern), " ", why,
		in_workflow(gate.workflow),
	])
}

# last_result(scope, tool, pattern): the result of the latest successful run. Read only once
# last_state says the latest run succeeded, so it is that run: reading the latest run suffices.
default last_result(_, _, _) := null

last_result(scope, tool, pattern) := lib.last_result_in(scope, tool, pattern)

rejection(condition, result) := concat("", ["returned no structured result to check ", condition.field]) if {
	not is_object(result)
}

rejection(condition, result) := concat("", ["returned no ", condition.field]) if {
	is_object(result)
	not has_key(result, condition.field)
}

rejection(condition, result) := why if {
	value := result[condition.field]
	compare(condition.op, value, condition.value)
	default_why := concat("", [
		"returned ", condition.field, " ", lib.show(value),
		" (blocked when ", condition.field, " ", op_text[condition.op], " ", lib.show(condition.value), ")",
	])
	why := object.get(condition, "message", default_why)
}

has_key(obj, key) if _ = obj[key]

op_text := {"eq": "=", "ne": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "in": "in", "not_in": "not in"}

compare("eq", a, b) if a == b

compare("ne", a, b) if a != b

compare("gt", a, b) if a > b

compare("gte", a, b) if a >= b

compare("lt", a, b) if a < b

compare("lte", a, b) if a <= b

compare("in", a, b) if a in b

compare("not_in", a, b) if not a in b

# forbidden_sequence: "never B after A" in the template's scope (e.g. the same session), e.g. no
# outbound send after a secret was read. `when: succeed` only counts an A that succeeded;
# default: any A that ran.
forbidden_sequence contains entry if {
	some name, template in templates
	some rule in object.get(template, "forbidden", [])
	input.call.name in rule.then
	some earlier in rule.after
	scope := history_scope(template)
	happened(scope, object.get(rule, "when", "run"), earlier)
	default_message := concat(" ", [input.call.name, "is not allowed after", earlier, lib.scope_words[scope]])
	entry := {
		"rule": "workflow.forbidden_sequence",
		"message": concat("", [object.get(rule, "message", default_message), in_workflow(name)]),
		"workflow": name,
		"step": input.call.name,
		"mode": mode(template, rule),
	}
}

# happened(scope, when, tool): tool ran (or succeeded) among the calls of scope. The session's
# summary answers for the session; other scopes read their history.
happened("session", "run", tool) if lib.called(tool)

happened("session", "succeed", tool) if lib.ever_succeeded(tool)

happened(scope, "run", tool) if {
	scope != "session"
	lib.called_in(scope, tool)
}

happened(scope, "succeed", tool) if {
	scope != "session"
	lib.ever_succeeded_in(scope, tool)
}

# rate_limit: at most `max` runs of `tool` in any `window_ms` (denied attempts do not count).
rate_limit contains entry if {
	some name, template in templates
	some limit in object.get(template, "rate_limits", [])
	limit.tool == input.call.name
	scope := history_scope(template)
	recent := lib.calls_within_in(scope, limit.tool, limit.window_ms)
	recent >= limit.max
	window := lib.show(limit.window_ms / 1000)
	entry := {
		"rule": "workflow.rate_limit",
		"message": concat("", [
			limit.tool, " is limited to ", lib.show(limit.max), " calls per ", window, " s; ",
			lib.show(recent), " ran in the last ", window, " s", rate_scope_note(scope), in_workflow(name),
		]),
		"workflow": name,
		"step": limit.tool,
		"mode": mode(template, limit),
	}
}

# rate_scope_note: a session's limit reads as before; any other says whose calls were counted.
rate_scope_note("session") := ""

rate_scope_note(scope) := concat("", [" ", lib.scope_words[scope]]) if scope != "session"

# approval: the current step needs a human approval that this session does not hold yet.
# Enforced entries become obligations.approval (Warden holds the call), monitored ones are only
# logged. scope "call" (default): each approval covers one run; "session": one covers all.
approval contains entry if {
	some current in call_steps
	spec := current.step.approval
	spec.required == true
	not approved(current.step.tool, object.get(spec, "scope", "call"))
	default_reason := concat("", [current.step.tool, " needs approval", in_workflow(current.workflow)])
	entry := {
		"rule": "workflow.approval",
		"reason": object.get(spec, "reason", default_reason),
		"approvers": object.get(spec, "approvers", []),
		"workflow": current.workflow,
		"step": current.step.tool,
		"mode": mode(templates[current.workflow], current.step),
	}
}

approved(tool, "call") if lib.approved(tool)

approved(tool, "session") if lib.ever_approved(tool)

# audit_required: the current call belongs to a workflow marked `audit: required` (e.g. every
# financial tool), so Warden must durably record it or deny it.
default audit_required := false

audit_required if {
	some template in templates
	object.get(template, "audit", "none") == "required"
	input.call.name in members(template)
}

# members: the workflow's step tools plus its extra `tools` (gate-free members such as
# refund_payment, which still get the workflow's audit obligation).
members(template) := {step.tool | some step in steps(template)} | {tool | some tool in object.get(template, "tools", [])}

# violations: everything that denies (mode enforce) or would deny (mode monitor) this call.
violations := ((((step_order | correlation_missing) | result_rejected) | forbidden_sequence) | rate_limit) | invalid_template

# The history the policy reads: data.mcp.history.reads (entrypoint mcp/history/reads).
#
# Warden evaluates it once per policy revision, with an empty input, and then gives each call
# only the history entries these reads return for it (each tagged with the scope it was drawn
# from), fetched from its indexed store, instead of a window of the session's last calls. So a
# decision costs the same however long the history grows. Each read is
#   {"for": [call names whose decisions read it; [] = every call], "tool": entry name,
#    "scope": session | trace | principal | global, "match": [argument names whose values must
#    equal the current call's], "last": the newest N matching entries, "outcomes": which count}
# or {"for": [...], "scope": "session", "all": true} for the session's whole history window, or
#   {"for": [...], "label": a result label, "scope": ..., "last": N, "outcomes": [...]}: the newest N
#   entries of scope whose labels contain it, whatever their tool (no match: nothing to correlate).
#
# Whatever a rule reads from input.history must be declared here, or the rule does not see it
# (and fails closed). The workflow engine's reads are derived from the templates; hand-written
# rules declare theirs as data, in data.history.reads (e.g. policy/history/reads.yaml), which is
# passed through as it is. docs/policies.md ("Declaring the history a policy reads") has more.
package mcp.history

import data.mcp.flow
import data.mcp.workflow

# ran: the outcomes of a call that ran (denied attempts are not runs).
ran := ["success", "error"]

# Gates: the current step reads the latest run of each step it requires, for the same subject.
# That run also carries the result reject_if checks: the engine checks a result only when the
# latest run succeeded, so the latest run is the latest successful one.
reads contains read if {
	some template in valid_templates
	some i, step in workflow.steps(template)
	some prior in workflow.required(template, i, step)
	read := {
		"for": [step.tool],
		"tool": prior.tool,
		"scope": workflow.declared_scope(template),
		"match": workflow.correlate_keys(template, step),
		"last": 1,
		"outcomes": ran,
	}
}

# Rate limits: the newest `max` runs, of which the rule counts those inside the window. If fewer
# than max of them are inside it, so are fewer than max of all runs: the count is exact.
reads contains read if {
	some template in valid_templates
	some limit in object.get(template, "rate_limits", [])
	read := {
		"for": [limit.tool],
		"tool": limit.tool,
		"scope": workflow.declared_scope(template),
		"match": [],
		"last": max([1, ceil(limit.max)]),
		"outcomes": ran,
	}
}

# Forbidden sequences: whether a tool of `after` ran (or succeeded) at all: its latest such call.
reads contains read if {
	some template in valid_templates
	some rule in object.get(template, "forbidden", [])
	some tool in rule.after
	read := {
		"for": rule.then,
		"tool": tool,
		"scope": workflow.declared_scope(template),
		"match": [],
		"last": 1,
		"outcomes": happened_outcomes[object.get(rule, "when", "run")],
	}
}

happened_outcomes := {"run": ran, "succeed": ["success"]}

# The flow rule (policy/mcp/flow/): whether a result with one of its labels reached the scope, for
# every call (the reads are evaluated without input, so they cannot tell which calls can send data
# out): per label, its newest entry that ran.
reads contains read if {
	flow.valid
	some label in flow.settings.labels
	read := {
		"for": [],
		"label": label,
		"scope": flow.settings.scope,
		"last": 1,
		"outcomes": ran,
	}
}

# Reads declared as data, for hand-written rules (absent: none).
reads contains read if {
	some read in declared_reads
}

default declared_reads := []

declared_reads := data.history.reads

# valid_templates: a template with errors declares nothing: its tools are denied anyway
# (workflow.invalid_template), and a read built from it could be malformed.
valid_templates contains template if {
	some name, template in workflow.templates
	not invalid(name)
}

invalid(name) if {
	some err in workflow.errors
	err.workflow == name
}

# Workflow status, for the dashboard: data.mcp.workflow.status (entrypoint mcp/workflow/status).
#
# Given one session's input document (its history, summary and approvals; input.call is
# ignored), it says for every declared workflow where that session stands: for each subject
# (each distinct value of the workflow's correlated arguments seen in the history of the
# workflow's scope; one subject, {}, when the workflow does not correlate) the state of each step:
#   done     its latest run for the subject satisfies its `must` (what later steps need of it);
#   blocked  an earlier step it requires is not done, or an earlier result trips a reject_if;
#   pending  it may run now (a step needing approval is held for it when called).
# It reuses the engine's own helpers (required, last_state, rejection, ...), so the dashboard
# can never disagree with what data.mcp.decision would decide for the same input: like the
# engine, it reads only the history entries drawn from each workflow's scope (all of them when
# the history carries no scopes), so a non-session workflow needs its scope's entries. Warden
# compiles this entrypoint when the policy defines it; a policy without it still works, and the
# dashboard says it has no workflow status.
#
# Cost: one pass over history per (workflow, subject, step); it runs for the dashboard, not on
# the path of a call.
package mcp.workflow

import data.lib

status := {
	"version": 1,
	"workflows": {name: workflow_status(name, template) | some name, template in templates},
}

workflow_errors(name) := sort([err.message | some err in errors; err.workflow == name])

# A broken template is reported with its errors rather than guessed at.
workflow_status(name, template) := {
	"valid": false,
	"errors": workflow_errors(name),
	"active": false,
	"complete": false,
	"subjects": [],
	"restrictions": [],
} if {
	count(workflow_errors(name)) > 0
} else := {
	"valid": true,
	"errors": [],
	"description": object.get(template, "description", ""),
	"mode": mode(template, {}),
	"correlate": object.get(template, "correlate", []),
	"active": workflow_active(template),
	"complete": workflow_complete(subjects),
	"subjects": subjects,
	"restrictions": restrictions(template),
} if {
	subjects := [subject_status(template, s) | some s in subject_patterns(template)]
}

# --- subjects ---------------------------------------------------------------------------------

step_tools(template) := {step.tool | some step in steps(template)}

# subject_patterns: the distinct correlated argument values the workflow's scope used with the
# workflow's steps (denied attempts included: the subject is in play), sorted.
subject_patterns(template) := [{}] if {
	count(object.get(template, "correlate", [])) == 0
} else := sort({pattern |
	keys := object.get(template, "correlate", [])
	some entry in lib.in_scope(history_scope(template))
	entry.name in step_tools(template)
	pattern := object.filter(object.get(entry, "arguments", {}), keys)
	count(pattern) == count(keys)
})

subject_status(template, subject) := {
	"subject": subject,
	"label": lib.describe(object.get(template, "correlate", []), subject),
	"complete": every_done(step_states),
	"steps": step_states,
} if {
	step_states := [step_status(template, i, step, subject) | some i, step in steps(template)]
}

every_done(step_states) if {
	every s in step_states {
		s.state == "done"
	}
}

default every_done(_) := false

workflow_complete(subjects) if {
	count(subjects) > 0
	every s in subjects {
		s.complete
	}
}

default workflow_complete(_) := false

# workflow_active: the session asked for one of the workflow's tools (even if denied).
workflow_active(template) if {
	some tool in (involved(template) | {tool | some rule in array_at(template, "forbidden"); some tool in rule.after})
	lib.attempted(tool)
}

default workflow_active(_) := false

# --- steps ------------------------------------------------------------------------------------

# step_pattern: the subject narrowed to the keys this step correlates on (a step may override
# the workflow's correlation, e.g. `correlate: []`).
step_pattern(template, step, subject) := object.filter(subject, correlate_keys(template, step))

step_status(template, i, step, subject) := {
	"tool": step.tool,
	"state": state,
	"must": must(step),
	"last_outcome": last_attempt(scope, step.tool, pattern),
	"waiting_for": waiting,
	"rejected": rejected,
	"approval": needs_approval(template, step),
	"mode": mode(template, step),
} if {
	scope := history_scope(template)
	pattern := step_pattern(template, step, subject)
	waiting := [prior.tool |
		some prior in required(template, i, step)
		not satisfied(must(prior), last_state(scope, prior.tool, pattern))
	]
	rejected := [why |
		some prior in required(template, i, step)
		some condition in object.get(prior, "reject_if", [])
		last_state(scope, prior.tool, pattern) == "success"
		why := concat("", [prior.tool, " ", rejection(condition, last_result(scope, prior.tool, pattern))])
	]
	state := step_state(satisfied_now(scope, step, pattern), count(waiting) + count(rejected))
}

satisfied_now(scope, step, pattern) if satisfied(must(step), last_state(scope, step.tool, pattern))

default satisfied_now(_, _, _) := false

step_state(true, _) := "done"

step_state(false, 0) := "pending"

step_state(false, n) := "blocked" if n > 0

needs_approval(template, step) if {
	step.approval.required == true
	mode(template, step) == "enforce"
}

default needs_approval(_, _) := false

# last_attempt(scope, tool, pattern): how the latest call of tool for the subject, among the
# calls of scope, ended, denied ones included: "success", "error", "denied", or "none".
default last_attempt(_, _, _) := "none"

last_attempt(scope, tool, pattern) := lib.last_outcome(tool) if summary_answers(scope, pattern)

last_attempt(scope, tool, pattern) := attempts[count(attempts) - 1] if {
	not summary_answers(scope, pattern)
	attempts := [entry.outcome |
		some entry in lib.in_scope(scope)
		entry.name == tool
		lib.matches(object.get(entry, "arguments", {}), pattern)
	]
	count(attempts) > 0
}

# --- forbidden sequences ----------------------------------------------------------------------

# restrictions: each "never B after A" rule, and whether the workflow's scope already tripped it
# (so its `then` tools are now denied).
restrictions(template) := [{
	"after": rule.after,
	"then": rule.then,
	"tripped": tripped(history_scope(template), rule),
	"mode": mode(template, rule),
} |
	some rule in array_at(template, "forbidden")
]

tripped(scope, rule) if {
	some earlier in rule.after
	happened(scope, object.get(rule, "when", "run"), earlier)
}

default tripped(_, _) := false

# The entrypoint Warden evaluates for every call: data.mcp.decision (opa build -e mcp/decision).
#
# It composes the workflow engine (data.mcp.workflow, driven by policy/workflows/*.yaml), the flow
# rule (data.mcp.flow, driven by policy/flow.yaml: approval before an open-world call after a secret
# or personal data reached the agent), the role check of data.access (policy/mcp/access.rego, driven by policy/access.yaml) and any hand-written
# rule package under policy/mcp/rules/<name>/ (package mcp.rules.<name>), which contributes by
# defining `deny contains reason` and/or `monitor contains reason` with
# reason = {"rule": "<name>.<rule>", "message": "..."}. Tools that no rule mentions are allowed,
# so rules can be added gradually without breaking existing tools.
#
# The decision is always defined and always has the same shape (Warden fails closed on anything
# else): allow, reasons, monitored (arrays) and obligations (object).
package mcp

import data.lib
import data.mcp.flow
import data.mcp.workflow

# A decision that cannot be computed denies. In practice every part below is a set or an object
# comprehension, which is never undefined, so this only guards against future edits.
default decision := {
	"allow": false,
	"reasons": [{"rule": "mcp.decision", "message": "the policy could not compute a decision"}],
	"monitored": [],
	"obligations": {},
}

decision := {
	"allow": count(denials) == 0,
	"reasons": sort([reason | some reason in denials]),
	"monitored": sort([reason | some reason in would_deny]),
	"obligations": obligations,
}

# denials: enforced reasons, as a set so identical reasons from two rules appear once.
denials contains public(v) if {
	some v in workflow.violations
	v.mode == "enforce"
}

denials contains reason if {
	some reason in data.mcp.rules[_].deny
}

# flow.invalid_settings: policy/flow.yaml has an error; calls that can send data out are blocked.
denials contains reason if {
	some reason in flow.deny
}

# access.role_required: a tool data.access (policy/access.yaml) keeps to some roles, called by a
# principal holding none of them (policy/mcp/access.rego). Hidden from its lists, too.
denials contains reason if {
	some reason in access_denials
}

denials contains {"rule": "mcp.input_version", "message": message} if {
	not input.version == 1
	message := concat("", [
		"input document version ", lib.show(object.get(input, "version", null)),
		" is not supported by this policy (it expects version 1)",
	])
}

would_deny contains public(v) if {
	some v in workflow.violations
	v.mode == "monitor"
}

would_deny contains {"rule": a.rule, "message": a.reason, "workflow": a.workflow, "step": a.step} if {
	some a in workflow.approval
	a.mode == "monitor"
}

would_deny contains {"rule": a.rule, "message": a.message} if {
	some a in flow.approval
	a.mode == "monitor"
}

would_deny contains reason if {
	some reason in data.mcp.rules[_].monitor
}

# public strips the engine's routing field from a reason.
public(v) := object.remove(v, ["mode"])

# --- obligations ------------------------------------------------------------------------------

obligations := object.union(approval_obligation, audit_obligation)

# enforced_approvals: the workflow steps' and the flow rule's, in one request.
enforced_approvals := [a | some a in (workflow.approval | flow.approval); a.mode == "enforce"]

# approval: only on a call that is otherwise allowed, so nobody is asked to approve a call that
# would be denied anyway. Several steps (or a step and the flow rule) needing approval for one call
# merge into one request: reasons joined, approvers united, so one approver of any of them suffices
# (input.approvals does not say which role approved).
approval_obligation := {"approval": object.union(
	{
		"required": true,
		"reason": concat("; ", sort({a.reason | some a in enforced_approvals})),
		"approvers": sort({approver | some a in enforced_approvals; some approver in a.approvers}),
		"allow_self_approval": allow_self_approval,
	},
	standing_reasons,
)} if {
	count(denials) == 0
	count(enforced_approvals) > 0
} else := {}

# standing_reasons: the flow rule's reasons stand when its approval is not given, so Warden's
# denial carries them beside its own (warden.approval_required or warden.approval_pending).
standing_reasons := {"reasons": sort([{"rule": a.rule, "message": a.message} |
	some a in flow.approval
	a.mode == "enforce"
])} if {
	some a in flow.approval
	a.mode == "enforce"
} else := {}

# allow_self_approval: Warden refuses a principal's approval of their own call, in their own client
# (elicitation) and in the dashboard alike, unless the obligation allows it. Allowed here only for a
# principal holding a role listed in data.approval.self_approval.roles (policy/approval/): meant for
# a single-user setup, where the person at the client is the only one who could approve
# (examples/warden.yaml gives its local user such a role).
default allow_self_approval := false

allow_self_approval if {
	some role in input.principal.roles
	role in self_approval_roles
}

default self_approval_roles := []

self_approval_roles := data.approval.self_approval.roles

audit_obligation := {"audit": {"required": true}} if workflow.audit_required

else := {}

# data.mcp.workflow.status: the per-session workflow status the dashboard shows, on small
# synthetic templates, then on the shipped production deployment template.
package mcp.workflow_test

import data.fixtures_test as f
import data.mcp.workflow

# a -> b (must run, reject_if on its result) -> c (needs approval), per id; d is free and
# uncorrelated; e needs approval but is monitored.
status_flow := {"flow": {
	"description": "test flow",
	"correlate": ["id"],
	"steps": [
		{"tool": "a"},
		{"tool": "b", "must": "run", "reject_if": [{"field": "risk", "op": "gte", "value": 5}]},
		{"tool": "c", "approval": {"required": true, "approvers": ["boss"]}},
		{"tool": "d", "requires": [], "correlate": []},
		{"tool": "e", "requires": ["a"], "mode": "monitor", "approval": {"required": true, "approvers": ["boss"]}},
	],
}}

plain_flow := {"plain": {"steps": [{"tool": "x"}, {"tool": "y"}]}}

guard_flow := {"guard": {"forbidden": [{"after": ["read_secret"], "then": ["send_email"], "when": "succeed"}]}}

status_of(history, templates) := result if {
	result := workflow.status with input as f.call("", {}, history)
		with data.workflows as templates
}

states(subject) := {s.tool: s.state | some s in subject.steps}

step_of(subject, tool) := [s | some s in subject.steps; s.tool == tool][0]

test_status_has_a_version_and_every_workflow if {
	s := status_of([], object.union(status_flow, plain_flow))
	s.version == 1
	object.keys(s.workflows) == {"flow", "plain"}
}

test_untouched_correlated_workflow_is_inactive_with_no_subjects if {
	w := status_of([], status_flow).workflows.flow
	w.valid
	not w.active
	not w.complete
	w.subjects == []
	w.description == "test flow"
	w.mode == "enforce"
	w.correlate == ["id"]
}

test_uncorrelated_workflow_has_one_subject if {
	w := status_of([], plain_flow).workflows.plain
	count(w.subjects) == 1
	subject := w.subjects[0]
	subject.subject == {}
	subject.label == ""
	states(subject) == {"x": "pending", "y": "blocked"}
	step_of(subject, "y").waiting_for == ["x"]
	step_of(subject, "x").last_outcome == "none"
}

test_uncorrelated_workflow_completes if {
	history := [f.entry(1, "x", {}, "success"), f.entry(2, "y", {}, "success")]
	w := status_of(history, plain_flow).workflows.plain
	w.active
	w.complete
	w.subjects[0].complete
	step_of(w.subjects[0], "y").last_outcome == "success"
}

test_a_failed_latest_run_is_not_done if {
	history := [f.entry(1, "x", {}, "success"), f.entry(2, "x", {}, "error")]
	subject := status_of(history, plain_flow).workflows.plain.subjects[0]
	states(subject) == {"x": "pending", "y": "blocked"}
	step_of(subject, "x").last_outcome == "error"
}

test_one_subject_per_correlated_value if {
	history := [
		f.entry(1, "a", {"id": 1}, "success"),
		f.entry(2, "c", {"id": 2}, "denied"),
		f.entry(3, "zzz", {"id": 3}, "success"),
		f.entry(4, "a", {"other": 4}, "success"),
	]
	w := status_of(history, status_flow).workflows.flow
	w.active
	[s.subject | some s in w.subjects] == [{"id": 1}, {"id": 2}]
	[s.label | some s in w.subjects] == ["id=1", "id=2"]
}

test_steps_of_a_subject if {
	history := [f.entry(1, "a", {"id": 1}, "success"), f.entry(2, "c", {"id": 2}, "denied")]
	w := status_of(history, status_flow).workflows.flow
	one := w.subjects[0]
	states(one) == {"a": "done", "b": "pending", "c": "blocked", "d": "pending", "e": "pending"}
	step_of(one, "c").waiting_for == ["b"]
	two := w.subjects[1]
	states(two) == {"a": "pending", "b": "blocked", "c": "blocked", "d": "pending", "e": "blocked"}
	step_of(two, "c").waiting_for == ["a", "b"]
	step_of(two, "c").last_outcome == "denied"
	not w.complete
}

test_must_run_is_done_after_a_failed_run if {
	history := [f.entry(1, "a", {"id": 1}, "success"), f.entry(2, "b", {"id": 1}, "error")]
	subject := status_of(history, status_flow).workflows.flow.subjects[0]
	step_of(subject, "b").state == "done"
	step_of(subject, "b").must == "run"
	step_of(subject, "c").state == "pending"
}

test_a_rejected_result_blocks_the_next_step if {
	history := [
		f.entry(1, "a", {"id": 1}, "success"),
		f.entry_with_result(2, "b", {"id": 1}, "success", {"risk": 9}),
	]
	c := step_of(status_of(history, status_flow).workflows.flow.subjects[0], "c")
	c.state == "blocked"
	c.waiting_for == []
	c.rejected == ["b returned risk 9 (blocked when risk >= 5)"]
}

test_approval_is_flagged_only_when_enforced if {
	subject := status_of([f.entry(1, "a", {"id": 1}, "success")], status_flow).workflows.flow.subjects[0]
	step_of(subject, "c").approval
	not step_of(subject, "e").approval
	step_of(subject, "e").mode == "monitor"
	not step_of(subject, "a").approval
}

test_an_uncorrelated_step_reads_the_whole_session if {
	history := [f.entry(1, "a", {"id": 1}, "success"), f.entry(2, "d", {}, "success")]
	subject := status_of(history, status_flow).workflows.flow.subjects[0]
	step_of(subject, "d").state == "done"
	step_of(subject, "d").last_outcome == "success"
}

test_correlated_workflow_completes_per_subject if {
	history := [
		f.entry(1, "a", {"id": 1}, "success"),
		f.entry(2, "b", {"id": 1}, "success"),
		f.entry(3, "c", {"id": 1}, "success"),
		f.entry(4, "d", {}, "success"),
		f.entry(5, "e", {"id": 1}, "success"),
	]
	w := status_of(history, status_flow).workflows.flow
	w.subjects[0].complete
	w.complete
	w2 := status_of(array.concat(history, [f.entry(6, "a", {"id": 2}, "success")]), status_flow).workflows.flow
	not w2.complete
	[s.complete | some s in w2.subjects] == [true, false]
}

test_forbidden_rules_report_whether_they_tripped if {
	untouched := status_of([], guard_flow).workflows.guard
	not untouched.active
	untouched.complete
	untouched.restrictions == [{"after": ["read_secret"], "then": ["send_email"], "tripped": false, "mode": "enforce"}]

	failed := status_of([f.entry(1, "read_secret", {}, "error")], guard_flow).workflows.guard
	failed.active
	not failed.restrictions[0].tripped

	read := status_of([f.entry(1, "read_secret", {}, "success")], guard_flow).workflows.guard
	read.restrictions[0].tripped
}

test_a_broken_template_reports_its_errors if {
	w := status_of([f.entry(1, "x", {}, "success")], {"broken": {"steps": [{"tool": "x", "must": "suceed"}]}}).workflows.broken
	not w.valid
	w.errors == ["steps[0]: must must be one of run, succeed, got suceed"]
	w.subjects == []
}

test_no_workflows_no_status if {
	status_of([], {}).workflows == {}
}

test_shipped_production_deployment_status if {
	history := [
		f.entry(1, "deploy_to_production", {"service": "api"}, "denied"),
		f.entry(2, "run_tests", {"service": "api"}, "success"),
		f.entry(3, "security_scan", {"service": "api"}, "success"),
	]
	status := workflow.status with input as f.call("", {}, history)
	w := status.workflows.production_deployment
	w.active
	not w.complete
	subject := w.subjects[0]
	subject.label == "service=api"
	states(subject) == {"run_tests": "done", "security_scan": "done", "deploy_to_production": "pending"}
	step_of(subject, "deploy_to_production").approval
	not status.workflows.customer_onboarding.active
}

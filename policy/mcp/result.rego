# The entrypoint Warden evaluates for every result: data.mcp.result (opa build -e mcp/result).
#
# The firewall's other half: the decision (data.mcp.decision) guards what an agent sends out, this
# guards what comes back. Warden asks it about every tool result, resource read and prompt get
# before the client sees it, with input.call (as in the decision's input), input.result (the raw
# MCP result), input.texts (every string of it the client would read, each with its JSON pointer,
# so that no rule has to walk the result), input.decision, and the call's principal, session,
# history and now_ms.
#
# The detectors (policy/lib/detect.rego) look at every string; data.results (policy/results.yaml)
# says which families to redact and which to deny, by default and per server, and which tools'
# results to label anyway. Hand-written rule packages (policy/mcp/rules/<name>/) may add
# `result_deny contains reason`.
#
# The answer is always defined and always has the same shape:
#   {"action": "pass" | "redact" | "deny",
#    "reasons": [{"rule": "result.<name>", "message": "..."}],  sorted; [] on pass
#    "redact":  [{"kind": "<kind>", "text": "<exact substring>"}], longest text first
#    "labels":  ["pii", "secret"]}                                 sorted, unique
# Warden replaces every occurrence of each redact text in every string of the result with
# "[REDACTED:<kind>]" (longest first, so a shorter text inside a longer one cannot break it up),
# withholds the result on deny, and records the labels with the call.
package mcp

import data.lib

# Every part below is a comprehension, which is never undefined: this guards future edits only.
default result := {"action": "pass", "reasons": [], "redact": [], "labels": []}

result := {
	"action": result_action,
	"reasons": sort([reason | some reason in result_reasons]),
	"redact": result_redactions,
	"labels": sort([label | some label in result_labels]),
}

result_action := "deny" if {
	count(result_denials) > 0
} else := "redact" if {
	count(result_redactions) > 0
} else := "pass"

result_reasons := result_denials | result_redacted

# --- settings (data.results) ------------------------------------------------------------------

default results_settings := {}

results_settings := data.results

# result_families(action) is what data.results lists under action ("redact" or "deny") for the
# call's server, else for every server: families ("credentials") or single kinds ("email").
result_families(action) := object.get(result_server_settings, action, object.get(results_settings, action, []))

result_server_settings := object.get(object.get(results_settings, "servers", {}), result_call.server, {})

default result_call := {"server": "", "name": ""}

result_call := object.union({"server": "", "name": ""}, input.call) if is_object(input.call)

# result_listed(action, finding) holds when data.results lists finding's family or kind under action.
result_listed(action, finding) if {
	some listed in result_families(action)
	listed in {finding.family, finding.kind}
}

# --- findings ---------------------------------------------------------------------------------

# result_texts: input.texts, as far as they are strings at a path.
default result_texts := []

result_texts := [entry | some entry in input.texts; is_string(entry.text); is_string(entry.path)]

# result_findings: each finding of the detectors, with the path of the string it was found in.
result_findings contains object.union(finding, {"path": entry.path}) if {
	some entry in result_texts
	some finding in lib.findings(entry.text)
}

result_findings contains object.union(finding, {"path": entry.path}) if {
	some entry in result_texts
	some finding in lib.field_findings(entry.path, entry.text)
}

# --- redact -----------------------------------------------------------------------------------

# result_redactions: one {"kind", "text"} per text to redact, longest first. A text found by two
# kinds is redacted as the specific one (github_token rather than secret_assignment), else as the
# first by name. Sorting does what grouping by text would, without comparing findings in pairs.
result_redactions := [{"kind": entry[2], "text": entry[1]} | some entry in sort(result_redact_firsts)]

result_redact_firsts := [[0 - count(entry[0]), entry[0], entry[2]] |
	some i, entry in result_redact_ranked
	not result_same_text_as_previous(i)
]

result_redact_ranked := sort({[finding.text, result_kind_rank(finding.kind), finding.kind] |
	some finding in result_findings
	result_listed("redact", finding)
})

result_same_text_as_previous(i) if result_redact_ranked[i - 1][0] == result_redact_ranked[i][0]

result_kind_rank(kind) := 1 if kind in lib.generic_kinds

else := 0

result_redacted contains {"rule": "result.redact", "message": message} if {
	some kind in {finding.kind | some finding in result_findings; result_listed("redact", finding)}
	message := concat("", [result_found(kind), ": redacted"])
}

# --- deny -------------------------------------------------------------------------------------

result_denials contains {"rule": "result.deny", "message": message} if {
	some kind in {finding.kind | some finding in result_findings; result_listed("deny", finding)}
	message := concat("", [result_found(kind), ": the result is withheld (data.results denies it ", result_scope, ")"])
}

result_denials contains reason if {
	some reason in data.mcp.rules[_].result_deny
}

result_denials contains {"rule": "result.input_version", "message": message} if {
	not input.version == 1
	message := concat("", [
		"input document version ", lib.show(object.get(input, "version", null)),
		" is not supported by this policy (it expects version 1)",
	])
}

# Without texts the detectors would see nothing, and pass anything: fail closed.
result_denials contains {"rule": "result.input_texts", "message": message} if {
	not result_texts_given
	message := "input.texts is missing or not an array: the result cannot be checked"
}

result_texts_given if is_array(input.texts)

# result_scope: whose setting applies, for messages.
result_scope := concat("", ["for server ", result_call.server]) if {
	result_server_settings.deny
} else := "for every server"

# result_found(kind) says where kind was found: "found email (pii) at /content/0/text", naming at
# most 5 paths.
result_found(kind) := concat("", [
	"found ", kind, " (", lib.detector_kinds[kind], ") at ", concat(", ", array.slice(paths, 0, 5)),
	result_more(count(paths) - 5),
]) if {
	paths := sort({finding.path | some finding in result_findings; finding.kind == kind})
}

result_more(n) := "" if n <= 0

else := concat("", [" and ", format_int(n, 10), " more"])

# --- labels -----------------------------------------------------------------------------------

# result_labels: the label of each family found, whether or not it is redacted or denied, and
# those data.results gives the tool's results (labels: {read_secret: [secret]}).
result_labels contains lib.detector_families[finding.family] if some finding in result_findings

result_labels contains label if {
	some label in object.get(object.get(results_settings, "labels", {}), result_call.name, [])
}

# Helpers about the current call and the approvals granted in this session.
package lib

# call_args is the current call's arguments, or {} when it has none.
default call_args := {}

call_args := input.call.arguments if is_object(input.call.arguments)

# call_pattern(keys) is the pattern {key: value} of the current call's arguments named by keys,
# for correlating it with earlier calls about the same subject. Undefined when an argument is
# missing, so a rule cannot silently correlate on nothing.
# Example: succeeded_with("validate_customer_data", call_pattern(["customer_id"]))
call_pattern(keys) := pattern if {
	pattern := {key: call_args[key] | some key in keys}
	count(pattern) == count(keys)
}

# missing_args(keys) lists the keys the current call's arguments lack, in order.
# Example: missing_args(["customer_id"]) == ["customer_id"]
missing_args(keys) := [key | some key in keys; not has_arg(key)]

has_arg(key) if _ = call_args[key]

# describe(keys, pattern) renders a pattern for messages, in the order of keys:
# describe(["customer_id"], {"customer_id": "c-2"}) == "customer_id=c-2"
describe(keys, pattern) := concat(", ", [concat("=", [key, show(pattern[key])]) | some key in keys])

# approvals_for(tool) lists input.approvals for tool. Warden binds each approval to the call it was
# given for (call_id, arguments_digest, principal) and lists the current call's own approval, if
# it has one, and those of earlier calls that ran. An approval of a call still running downstream,
# or of one denied after all, is in no other call's input.
approvals_for(tool) := [approval |
	some approval in object.get(input, "approvals", [])
	approval.tool == tool
]

# ever_approved(tool) holds when tool was approved at least once in this session: for the
# current call, or for an earlier call that ran.
# Example: ever_approved("deploy_to_production")
ever_approved(tool) if count(approvals_for(tool)) > 0

# approved(tool) holds when the current call holds an approval given for it: each approval covers
# the one call it was given for, and is used up when that call is forwarded. Approvals of other
# calls never count, however many there are, so two calls (even overlapping ones) cannot share one.
# Example: approved("deploy_to_production")
approved(tool) if {
	some approval in approvals_for(tool)
	for_this_call(approval)
}

# for_this_call(approval) holds when approval was given for the current call (input.call.id).
# Example: [a | some a in input.approvals; lib.for_this_call(a)]
for_this_call(approval) if approval.call_id == input.call.id

# show(value) renders a value for a message: strings as they are, anything else as JSON.
# Messages use concat and show rather than sprintf, so they read the same under every Wasm host.
# Example: show(0.93) == "0.93"; show("c-2") == "c-2"
show(value) := value if is_string(value)

show(value) := json.marshal(value) if not is_string(value)

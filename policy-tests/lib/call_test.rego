package lib_test

import data.fixtures_test as f
import data.lib

test_call_args if {
	lib.call_args == {"customer_id": "c-1"} with input as f.call("x", {"customer_id": "c-1"}, [])
	lib.call_args == {} with input as {"call": {"name": "x"}}
	lib.call_args == {} with input as {"call": {"name": "x", "arguments": "oops"}}
}

test_call_pattern if {
	lib.call_pattern(["a", "b"]) == {"a": 1, "b": false} with input as f.call("x", {"a": 1, "b": false, "c": 3}, [])
	lib.call_pattern([]) == {} with input as f.call("x", {"a": 1}, [])
	not lib.call_pattern(["a", "z"]) with input as f.call("x", {"a": 1}, [])
}

test_missing_args if {
	lib.missing_args(["a", "z", "y"]) == ["z", "y"] with input as f.call("x", {"a": 1}, [])
	lib.missing_args(["a"]) == [] with input as f.call("x", {"a": 1}, [])
}

test_describe if {
	lib.describe(["b", "a"], {"a": "c-2", "b": 10}) == "b=10, a=c-2"
	lib.describe([], {}) == ""
}

test_show if {
	lib.show("c-2") == "c-2"
	lib.show(0.93) == "0.93"
	lib.show(["reject"]) == "[\"reject\"]"
	lib.show(null) == "null"
}

test_approvals if {
	deploy := f.call_with_approvals("deploy_to_production", {}, [], [f.approval("deploy_to_production"), f.approval("other")])
	count(lib.approvals_for("deploy_to_production")) == 1 with input as deploy
	lib.ever_approved("deploy_to_production") with input as deploy
	not lib.ever_approved("delete_database") with input as deploy
	lib.approvals_for("x") == [] with input as {}
}

test_approved_by_an_approval_for_this_call if {
	own := [f.approval("deploy_to_production")]
	lib.approved("deploy_to_production") with input as f.call_with_approvals("deploy_to_production", {}, [], own)

	# Its own approval counts whatever ran before it.
	deployed := [f.entry(1, "deploy_to_production", {}, "success")]
	lib.approved("deploy_to_production") with input as f.call_with_approvals("deploy_to_production", {}, deployed, own)
	not lib.approved("deploy_to_production") with input as f.call("deploy_to_production", {}, [])
	not lib.approved("other") with input as f.call_with_approvals("other", {}, [], own)
}

test_approved_never_by_an_approval_of_another_call if {
	# An approval of another call: one still running downstream (its run not in history yet), or
	# one denied when decided again after approval. Counting approvals against runs took either
	# for a spare; bound to its call, it covers nothing else.
	other := [f.approval_of("deploy_to_production", "call-1")]
	not lib.approved("deploy_to_production") with input as f.call_with_approvals("deploy_to_production", {}, [], other)
	denied := [f.entry(1, "deploy_to_production", {}, "denied")]
	not lib.approved("deploy_to_production") with input as f.call_with_approvals("deploy_to_production", {}, denied, other)

	# An input without call ids (an older host) approves nothing: fail closed.
	unbound := [object.remove(f.approval("deploy_to_production"), ["call_id"])]
	not lib.approved("deploy_to_production") with input as f.call_with_approvals("deploy_to_production", {}, [], unbound)
	own := f.call_with_approvals("deploy_to_production", {}, [], [f.approval("deploy_to_production")])
	not lib.approved("deploy_to_production") with input as json.remove(own, ["call/id"])
}

test_for_this_call if {
	lib.for_this_call(f.approval("x")) with input as f.call("x", {}, [])
	not lib.for_this_call(f.approval_of("x", "call-1")) with input as f.call("x", {}, [])
}

package attest.quota_test

import rego.v1

import data.attest.quota

test_eleven_is_too_many if {
	quota.too_many with input as {"spec": {"replicas": 11}}
}

test_ten_is_too_many if {
	print("replicas:", 10)
	quota.too_many with input as {"spec": {"replicas": 10}}
}

test_conflicting_modes if {
	quota.mode == "strict" with input as {"strict": true, "lenient": true}
}

todo_test_quota_per_namespace if {
	false
}

test_limits[note] if {
	some note, replicas in {"eleven": 11, "nine": 9}
	quota.too_many with input as {"spec": {"replicas": replicas}}
}

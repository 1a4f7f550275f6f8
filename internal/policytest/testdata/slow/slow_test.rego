package attest.slow_test

import rego.v1

test_endless_search if {
	some i in numbers.range(1, 5000)
	some j in numbers.range(1, 5000)
	i * j == -1
}

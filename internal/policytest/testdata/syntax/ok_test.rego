package attest.ok_test

import rego.v1

test_true if true

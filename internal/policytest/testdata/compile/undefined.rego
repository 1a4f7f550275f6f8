package attest.undefined

import rego.v1

deny contains msg if {
	not_a_function(input.kind)
	msg := "never"
}

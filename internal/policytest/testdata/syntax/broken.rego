package attest.broken

import rego.v1

deny contains msg if {
	input.kind == "Pod"
	msg := "pods are not allowed
}

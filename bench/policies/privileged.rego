package main

# METADATA
# title: Privileged container
# custom:
#   id: privileged-container
#   severity: critical
deny contains msg if {
	some c in containers
	c.securityContext.privileged == true
	msg := sprintf("%s: container %q runs privileged", [obj, c.name])
}

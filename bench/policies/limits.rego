package main

# METADATA
# title: Container without memory limit
# custom:
#   id: memory-limit
#   severity: medium
deny contains msg if {
	some c in containers
	not c.resources.limits.memory
	msg := sprintf("%s: container %q has no memory limit", [obj, c.name])
}

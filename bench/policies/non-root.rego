package main

runs_as_non_root(c) if c.securityContext.runAsNonRoot == true

runs_as_non_root(c) if {
	pod_spec.securityContext.runAsNonRoot == true
	not c.securityContext.runAsNonRoot == false
}

# METADATA
# title: Container may run as root
# custom:
#   id: run-as-non-root
#   severity: high
deny contains msg if {
	some c in containers
	not runs_as_non_root(c)
	msg := sprintf("%s: container %q may run as root (set runAsNonRoot)", [obj, c.name])
}

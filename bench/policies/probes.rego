package main

# METADATA
# title: Container without readiness probe
# custom:
#   id: readiness-probe
#   severity: low
warn contains msg if {
	input.kind in {"Deployment", "StatefulSet"}
	some c in pod_spec.containers
	not c.readinessProbe
	msg := sprintf("%s: container %q has no readiness probe", [obj, c.name])
}

package main

# METADATA
# title: Single replica
# custom:
#   id: min-replicas
#   severity: medium
warn contains msg if {
	input.kind in {"Deployment", "StatefulSet"}
	replicas := object.get(input.spec, "replicas", 1)
	replicas < 2
	msg := sprintf("%s: %d replica(s); run at least 2 for availability", [obj, replicas])
}

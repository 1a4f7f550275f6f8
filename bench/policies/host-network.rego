package main

# METADATA
# title: Host network
# custom:
#   id: host-network
#   severity: high
deny contains msg if {
	pod_spec.hostNetwork == true
	msg := sprintf("%s: pod uses the host network", [obj])
}

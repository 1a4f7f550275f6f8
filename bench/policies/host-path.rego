package main

# METADATA
# title: hostPath volume
# custom:
#   id: host-path
#   severity: high
deny contains msg if {
	some v in pod_spec.volumes
	v.hostPath
	msg := sprintf("%s: volume %q mounts the host path %q", [obj, v.name, v.hostPath.path])
}

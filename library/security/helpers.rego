package attest.security

import data.attest.lib

# get_containers holds every container of the resource, whatever its
# workload kind (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet,
# ReplicationController, Job, CronJob, PodTemplate), including
# initContainers and ephemeralContainers. Empty for other kinds. The
# specification's rules use it as get_containers[_].
get_containers contains e.container if some e in lib.containers

# has_attest_attestation(image) is true when attestation is not required
# (input.context.require_attestation is not true, the default), or when the
# attestation store has a verified attestation for the image
# (attest.attestation_verified). With require_attestation on and no store
# configured, no image has one. The store is only asked when attestation is
# required.
has_attest_attestation(_) if not lib.require_attestation

has_attest_attestation(image) if {
	lib.require_attestation
	attest.attestation_verified(image)
}

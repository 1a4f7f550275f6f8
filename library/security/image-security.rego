# METADATA
# title: Image security
# description: >-
#   Where images come from and how they are referenced: trusted registries,
#   mutable tags, digest pinning and pull policy. The project configures it
#   as the policy named image-security (spec section 4); its
#   require_attestation parameter also turns on the attestation rules of
#   attest-security and the receipt rule of attest-deployment.
# scope: package
# custom:
#   policy: image-security
#   parameters:
#     - name: trusted_registries
#       type: list of strings
#       default: []
#       description: >-
#         Image reference prefixes that are trusted (for example "gcr.io/" or
#         "registry.company.com/"). Empty means no registry check. Docker Hub
#         short names (nginx) are compared as docker.io/library/nginx too.
#     - name: require_attestation
#       type: boolean
#       default: false
#       description: >-
#         Require ATTEST attestations and receipts. Images must then be pinned
#         by digest (image-digest becomes high), and the engine sets
#         input.context.require_attestation for the other policies.
package attest.image_security

import data.attest.lib

trusted_registries := object.get(input, ["parameters", "trusted_registries"], [])

default require_attestation := false

require_attestation if input.parameters.require_attestation == true

require_attestation if lib.require_attestation

# canonical(image) spells out Docker Hub's implicit registry and library/
# namespace: nginx -> docker.io/library/nginx, org/app -> docker.io/org/app.
canonical(image) := concat("/", ["docker.io/library", image]) if {
	not contains(image, "/")
} else := concat("/", ["docker.io", image]) if {
	first := split(image, "/")[0]
	not contains(first, ".")
	not contains(first, ":")
	first != "localhost"
} else := image

trusted(image) if {
	some prefix in trusted_registries
	startswith(image, prefix)
}

trusted(image) if {
	some prefix in trusted_registries
	startswith(canonical(image), prefix)
}

# METADATA
# title: Images must come from a trusted registry
# description: >-
#   When trusted_registries is configured, every container image (init and
#   ephemeral containers included) must start with one of its prefixes.
# custom:
#   id: trusted-registry
#   severity: high
#   remediation: >-
#     Mirror the image into a trusted registry and reference it there, or add
#     the registry to image-security's trusted_registries.
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, PodTemplate]
#   controls: ["CIS:5.5.1", "SOC2:CC8.1", "NIST-800-190:4.1.5", "NIST-SSDF:PS.3"]
violation contains {"violated": true, "message": msg, "severity": "high", "details": d} if {
	count(trusted_registries) > 0
	some img in lib.images
	not trusted(img.image)
	msg := sprintf("Container image '%v' is not from a trusted registry (%v)", [img.image, concat(", ", trusted_registries)])
	d := {"field": img.path, "container": img.name}
}

mutable(image) if {
	not lib.image_has_digest(image)
	lib.image_tag(image) in {"", "latest"}
}

# METADATA
# title: No latest or missing image tags
# description: >-
#   An image referenced as :latest, or without a tag (which means latest),
#   changes under the workload: two pods of one Deployment can run
#   different code, and a rollback does not roll back.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/containers/images/
# custom:
#   id: latest-tag
#   severity: medium
#   remediation: Reference a version tag (nginx:1.27.3) or, better, a digest (nginx@sha256:...).
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, PodTemplate]
#   controls: ["CIS:5.5.1", "SOC2:CC8.1", "NIST-800-190:4.1.1"]
violation contains {"violated": true, "message": msg, "severity": "medium", "details": d} if {
	some img in lib.images
	mutable(img.image)
	msg := sprintf("Container image '%v' uses the mutable latest tag", [img.image])
	d := {"field": img.path, "container": img.name}
}

# METADATA
# title: Images should be pinned by digest
# description: >-
#   A tag can be moved to other content; a digest (@sha256:...) cannot.
#   Attestations bind to digests, so with require_attestation the finding is
#   high; otherwise it is advice (low). Images already reported by
#   latest-tag are not reported again.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/containers/images/
# custom:
#   id: image-digest
#   severity: low
#   remediation: >-
#     Reference the image by digest (registry/app:1.2.3@sha256:...); tools
#     like crane digest or kustomize images can pin it.
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, PodTemplate]
#   controls: ["SOC2:CC8.1", "NIST-SSDF:PS.3", "SLSA:L2"]
violation contains {"violated": true, "message": msg, "severity": sev, "details": d} if {
	some img in lib.images
	not lib.image_has_digest(img.image)
	not mutable(img.image)
	sev := {true: "high", false: "low"}[require_attestation]
	msg := sprintf("Container image '%v' is not pinned by digest", [img.image])
	d := {"field": img.path, "container": img.name}
}

# METADATA
# title: Mutable tags need imagePullPolicy Always
# description: >-
#   With a latest (or missing) tag and imagePullPolicy IfNotPresent or Never,
#   each node keeps whatever version it pulled first.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/containers/images/
# custom:
#   id: image-pull-policy
#   severity: low
#   remediation: Pin a version tag or digest; otherwise set imagePullPolicy to Always.
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, PodTemplate]
#   controls: ["SOC2:CC8.1", "NIST-800-190:4.1.1"]
violation contains {"violated": true, "message": msg, "severity": "low", "details": d} if {
	some e in lib.containers
	mutable(e.container.image)
	policy := e.container.imagePullPolicy
	policy in {"IfNotPresent", "Never"}
	msg := sprintf("Container '%v' pulls the mutable image '%v' with imagePullPolicy %v", [e.name, e.container.image, policy])
	d := {"field": concat("", [e.path, ".imagePullPolicy"]), "container": e.name}
}

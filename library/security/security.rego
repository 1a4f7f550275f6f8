# METADATA
# title: ATTEST security
# description: >-
#   Container, image, network and RBAC security. Holds the two security rules
#   of the ATTEST specification (section 3) verbatim, and the rules a
#   platform team expects on top of them (container-security.rego,
#   network-policies.rego, rbac-policies.rego).
package attest.security

# The rules below are the specification's text, unchanged (Rego v0 with
# `in`). Their helpers are in helpers.rego.

# Deny containers without ATTEST attestation

# METADATA
# title: Pod images must carry an ATTEST attestation
# description: >-
#   Every container image of a Pod must have a verified ATTEST attestation in
#   the configured attestation store. Only enforced when attestation is
#   required (image-security's require_attestation: true); with no store
#   configured, every image is reported. Other workload kinds are covered by
#   workload-image-attestation.
# custom:
#   id: image-attestation
#   severity: high
#   remediation: >-
#     Build the image through the attested pipeline (attest sign/attest) so
#     its digest has an attestation in the store, or reference an image that
#     does.
#   kinds: [Pod]
#   controls: ["SOC2:CC8.1", "SOC2:CC7.1", "NIST-SSDF:PS.2", "SLSA:L2"]
violation[{"violated": true, "message": msg, "severity": "high"}] {
input.resource.kind == "Pod"
container := input.resource.spec.containers[_]
not has_attest_attestation(container.image)
msg := sprintf("Container image '%v' lacks required ATTEST attestation", [container.image])
}

# Deny privileged containers

# METADATA
# title: No privileged containers (Pods and Deployments)
# description: >-
#   A privileged container has every capability and access to the host's
#   devices; escaping to the node is trivial. Covers Pods and Deployments as
#   the specification writes it; privileged-container-workloads covers the
#   other workload kinds.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/
# custom:
#   id: privileged-containers
#   severity: critical
#   remediation: >-
#     Remove securityContext.privileged: true (or set it to false) and grant
#     only the specific capabilities the container needs.
#   kinds: [Pod, Deployment]
#   controls: ["CIS:5.2.1", "PSS:baseline", "SOC2:CC6.1", "NIST-800-190:4.4.3"]
violation[{"violated": true, "message": msg, "severity": "critical"}] {
input.resource.kind in ["Pod", "Deployment"]
container := get_containers[_]
container.securityContext.privileged == true
msg := sprintf("Privileged containers are not allowed: %v", [container.name])
}

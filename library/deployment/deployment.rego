# METADATA
# title: ATTEST deployment
# description: >-
#   Deployment practice: ATTEST receipts, replicas in production, health
#   probes and availability. Holds the two deployment rules of the ATTEST
#   specification (section 3) verbatim; health-checks.rego and
#   availability.rego add the rest.
package attest.deployment

# The rules below are the specification's text, unchanged (Rego v0 with
# `in`). Their helpers are in helpers.rego.

# Require ATTEST receipt for all deployments

# METADATA
# title: Deployments must carry a valid ATTEST receipt
# description: >-
#   A Deployment must carry its ATTEST deployment receipt in the
#   attest.continuu.ms/receipt annotation, and the receipt must verify
#   against the object. Enforced when attestation is required
#   (image-security's require_attestation: true).
# custom:
#   id: deployment-receipt
#   severity: critical
#   remediation: >-
#     Deploy through the ATTEST pipeline, which writes the
#     attest.continuu.ms/receipt annotation, and do not edit the object after
#     the receipt was issued.
#   kinds: [Deployment]
#   controls: ["SOC2:CC8.1", "SOC2:CC7.1", "NIST-SSDF:PS.3", "SLSA:L3"]
violation[{"violated": true, "message": msg, "severity": "critical"}] {
input.resource.kind == "Deployment"
not has_attest_receipt
msg := "Deployment must include valid ATTEST receipt"
}

# Enforce minimum replica count for production

# METADATA
# title: Production Deployments need at least 2 replicas
# description: >-
#   A production Deployment (namespace in the production list, or labelled
#   environment: production) with spec.replicas below 2 goes down with its
#   only pod: on a node drain, an eviction or a rollout.
# custom:
#   id: production-replicas
#   severity: medium
#   remediation: Set spec.replicas to 2 or more (or let a HorizontalPodAutoscaler with minReplicas >= 2 manage it).
#   kinds: [Deployment]
#   controls: ["SOC2:A1.1", "SOC2:A1.2", "HIPAA:164.308(a)(7)"]
violation[{"violated": true, "message": msg, "severity": "medium"}] {
input.resource.kind == "Deployment"
is_production_namespace
input.resource.spec.replicas < 2
msg := "Production deployments must have at least 2 replicas for high availability"
}

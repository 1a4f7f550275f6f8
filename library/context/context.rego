# METADATA
# title: ATTEST context
# description: >-
#   Rules that depend on the environment a resource is deployed to. Holds
#   the contextual rule of the ATTEST specification (section 12) verbatim.
package attest.context

# Different rules for different environments

# METADATA
# title: Production Deployments must meet stricter requirements
# description: >-
#   A Deployment labelled environment: production must run at least 3
#   replicas, set resource limits on a container, and be annotated
#   monitoring.company.com/enabled: "true".
# custom:
#   id: production-requirements
#   severity: medium
#   remediation: >-
#     Set spec.replicas to 3 or more, set resources.limits on the containers,
#     and annotate the Deployment with monitoring.company.com/enabled: "true".
#   kinds: [Deployment]
#   controls: ["SOC2:A1.1", "SOC2:CC7.2"]
violation[{"violated": true, "message": msg}] {
input.resource.kind == "Deployment"
environment := input.resource.metadata.labels["environment"]
environment == "production"
not has_production_requirements
msg := "Production deployments must meet stricter requirements"
}

# has_production_requirements is the specification's definition, verbatim:
# at least 3 replicas, some container with resources.limits, and the
# annotation monitoring.company.com/enabled: "true" on the Deployment.
has_production_requirements {
input.resource.spec.replicas >= 3
input.resource.spec.template.spec.containers[_].resources.limits
input.resource.metadata.annotations["monitoring.company.com/enabled"] == "true"
}

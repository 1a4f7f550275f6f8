package attest.deployment

# Rego v0, as the spec writes it: `in` without importing it.
violation[{"violated": true, "message": msg, "severity": "medium"}] {
    input.resource.kind == "Deployment"
    some c in input.resource.spec.template.spec.containers
    not c.resources.limits
    msg := sprintf("container %s has no resource limits", [c.name])
}

violation[{"violated": true, "message": msg, "severity": "low"}] {
    input.resource.kind == "Deployment"
    input.resource.spec.replicas < 2
    msg := "a single replica is not highly available"
}

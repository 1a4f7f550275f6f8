# METADATA
# title: ATTEST compliance
# description: >-
#   SOC2, GDPR and HIPAA requirements that can be judged from a manifest.
#   Holds the two compliance rules of the ATTEST specification (section 3)
#   verbatim; soc2.rego, gdpr.rego and hipaa.rego add the rest. Rules read
#   the compliance configuration (spec section 8) from input.context.compliance
#   and default sensibly without it.
package attest.compliance

# The rules below are the specification's text, unchanged (Rego v0 with
# `in`). Their helpers are in helpers.rego.

# SOC2 Compliance: Audit logging requirements

# METADATA
# title: Production Deployments must enable audit logging
# description: >-
#   SOC2 asks for monitoring and logging of production systems. A production
#   Deployment must declare that its audit trail is shipped, with the
#   annotation audit.attest.continuu.ms/enabled: "true" on the Deployment or
#   its pod template.
# custom:
#   id: soc2-audit-logging
#   severity: high
#   remediation: >-
#     Ship the application's audit log (sidecar or node agent) and annotate
#     the Deployment with audit.attest.continuu.ms/enabled: "true".
#   kinds: [Deployment]
#   controls: ["SOC2:CC7.2", "SOC2:CC7.3", "HIPAA:164.312(b)"]
violation[{"violated": true, "message": msg, "severity": "high"}] {
input.resource.kind == "Deployment"
is_production_namespace
not has_audit_logging_enabled
msg := "Production deployments must enable audit logging for SOC2 compliance"
}

# GDPR: Data protection annotations

# METADATA
# title: Personal data Deployments need GDPR annotations
# description: >-
#   A Deployment that processes personal data must record its lawful basis,
#   data controller and retention period as annotations (the list is
#   compliance.gdpr.data_protection.required_annotations, by default the
#   three gdpr.attest.continuu.ms annotations).
# custom:
#   id: gdpr-data-protection
#   severity: high
#   remediation: >-
#     Add the missing gdpr.attest.continuu.ms annotations (lawful-basis,
#     data-controller, retention-period) to the Deployment's metadata.
#   kinds: [Deployment]
#   controls: ["GDPR:Art.5", "GDPR:Art.25", "GDPR:Art.30"]
violation[{"violated": true, "message": msg, "severity": "high"}] {
input.resource.kind == "Deployment"
processes_personal_data
not has_data_protection_annotations
msg := "Applications processing personal data must have GDPR data protection annotations"
}

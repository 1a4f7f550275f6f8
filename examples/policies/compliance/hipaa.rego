# HIPAA rules of package company.compliance, in Rego v1.
package company.compliance

phi if annotations["hipaa.attest.continuu.ms/phi"] == "true"

phi if labels["hipaa.attest.continuu.ms/phi"] == "true"

phi_kinds := {"Deployment", "StatefulSet", "DaemonSet", "CronJob", "Job", "Pod"}

strict_mtls if annotations["mesh.company.com/mtls"] == "strict"

# METADATA
# title: PHI workloads use mutual TLS
# description: >-
#   The service mesh encrypts traffic between pods only for workloads that
#   opt in to strict mTLS.
# custom:
#   id: phi-mtls
#   severity: high
#   remediation: Add the annotation mesh.company.com/mtls "strict".
#   kinds: [Deployment, StatefulSet, DaemonSet, CronJob, Job, Pod]
#   controls: ["HIPAA:164.312(e)(1)"]
violation contains {"violated": true, "message": msg, "severity": "high"} if {
	input.resource.kind in phi_kinds
	phi
	not strict_mtls
	msg := sprintf("%v '%v' handles PHI without strict mTLS", [input.resource.kind, input.resource.metadata.name])
}

# METADATA
# title: PHI stays in production
# description: >-
#   Only the production namespace has the access controls and audit trail
#   that HIPAA requires; PHI must not be copied to staging or dev.
# custom:
#   id: phi-production-only
#   severity: critical
#   remediation: Run the workload on synthetic data outside production, and drop the PHI annotation.
#   kinds: [Deployment, StatefulSet, DaemonSet, CronJob, Job, Pod]
#   controls: ["HIPAA:164.308(a)(4)", "HIPAA:164.312(a)(1)"]
violation contains {"violated": true, "message": msg, "severity": "critical", "details": {"field": "metadata.namespace"}} if {
	input.resource.kind in phi_kinds
	phi
	input.resource.metadata.namespace != "production"
	msg := sprintf("%v '%v' handles PHI outside production (namespace %v)", [input.resource.kind, input.resource.metadata.name, input.resource.metadata.namespace])
}

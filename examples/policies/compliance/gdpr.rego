# GDPR rules of package company.compliance, in the specification's Rego v0
# style. The built-in attest.compliance policy checks that Deployments
# processing personal data carry the three GDPR annotations; these rules
# extend that to the other workload kinds and check the values.
package company.compliance

gdpr_kinds := ["Deployment", "StatefulSet", "DaemonSet", "CronJob", "Job", "Pod"]

gdpr_annotations := [
	"gdpr.attest.continuu.ms/lawful-basis",
	"gdpr.attest.continuu.ms/data-controller",
	"gdpr.attest.continuu.ms/retention-period",
]

# The six lawful bases of GDPR article 6(1).
lawful_bases := ["consent", "contract", "legal-obligation", "vital-interests", "public-task", "legitimate-interests"]

# Same convention as the built-in library.
personal_data {
	annotations["gdpr.attest.continuu.ms/personal-data"] == "true"
}

personal_data {
	labels["gdpr.attest.continuu.ms/personal-data"] == "true"
}

# METADATA
# title: GDPR annotations on every workload kind
# custom:
#   id: gdpr-annotations
#   severity: high
#   remediation: >-
#     Add gdpr.attest.continuu.ms/lawful-basis, data-controller and
#     retention-period to metadata.annotations.
#   kinds: [StatefulSet, DaemonSet, CronJob, Job, Pod]
#   controls: ["GDPR:Art.30", "GDPR:Art.5(1)(e)"]
violation[{"violated": true, "message": msg, "severity": "high"}] {
	input.resource.kind in gdpr_kinds
	input.resource.kind != "Deployment" # the built-in rule covers Deployments
	personal_data
	a := gdpr_annotations[_]
	not annotations[a]
	msg := sprintf("%v '%v' processes personal data but has no %v annotation", [input.resource.kind, input.resource.metadata.name, a])
}

# METADATA
# title: GDPR lawful basis is one of article 6
# custom:
#   id: gdpr-lawful-basis
#   severity: high
#   remediation: Use consent, contract, legal-obligation, vital-interests, public-task or legitimate-interests.
#   kinds: [Deployment, StatefulSet, DaemonSet, CronJob, Job, Pod]
#   controls: ["GDPR:Art.6"]
violation[{"violated": true, "message": msg, "severity": "high"}] {
	input.resource.kind in gdpr_kinds
	basis := annotations["gdpr.attest.continuu.ms/lawful-basis"]
	not basis in lawful_bases
	msg := sprintf("Lawful basis '%v' of %v '%v' is not one of %v", [basis, input.resource.kind, input.resource.metadata.name, concat(", ", lawful_bases)])
}

# METADATA
# title: GDPR retention period is an ISO 8601 duration
# custom:
#   id: gdpr-retention-period
#   severity: medium
#   remediation: Write the retention period as an ISO 8601 duration such as P30D, P6M or P7Y.
#   kinds: [Deployment, StatefulSet, DaemonSet, CronJob, Job, Pod]
#   controls: ["GDPR:Art.5(1)(e)"]
violation[{"violated": true, "message": msg, "severity": "medium"}] {
	input.resource.kind in gdpr_kinds
	period := annotations["gdpr.attest.continuu.ms/retention-period"]
	not regex.match(`^P[0-9]+[DWMY]$`, period)
	msg := sprintf("Retention period '%v' of %v '%v' is not an ISO 8601 duration (P30D, P6M, P7Y)", [period, input.resource.kind, input.resource.metadata.name])
}

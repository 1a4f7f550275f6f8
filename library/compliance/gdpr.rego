package attest.compliance

import data.attest.lib

# GDPR: data protection records on workloads that process personal data.

# METADATA
# title: Personal data workloads need GDPR annotations
# description: >-
#   The specification's gdpr-data-protection rule covers Deployments; this
#   one covers the other workload kinds, and names the missing annotations.
# custom:
#   id: gdpr-data-protection-workloads
#   severity: high
#   remediation: Add the missing gdpr.attest.continuu.ms annotations to the workload's metadata.
#   kinds: [Pod, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob]
#   controls: ["GDPR:Art.5", "GDPR:Art.25", "GDPR:Art.30"]
violation contains {"violated": true, "message": msg, "severity": "high", "details": d} if {
	input.resource.kind in lib.workload_kinds
	not input.resource.kind in {"Deployment", "PodTemplate"}
	processes_personal_data
	missing := sort([a | some a in lib.missing_gdpr_annotations])
	count(missing) > 0
	msg := sprintf("%v %v processes personal data but lacks GDPR annotations: %v", [input.resource.kind, input.resource.metadata.name, concat(", ", missing)])
	d := {"field": lib.deepest("", input.resource, ["metadata", "annotations"])}
}

retention_key := "gdpr.attest.continuu.ms/retention-period"

# valid_retention: an ISO 8601 duration (P30D, P1Y6M) or a count of days,
# weeks, months or years (30d, 6 months, 2y).
valid_retention(v) if {
	regex.match(`^P([0-9]+Y)?([0-9]+M)?([0-9]+W)?([0-9]+D)?$`, v)
	v != "P"
}

valid_retention(v) if regex.match(`^[0-9]+ ?(d|w|m|y|days?|weeks?|months?|years?)$`, lower(v))

# METADATA
# title: GDPR retention period must be a duration
# description: >-
#   gdpr.attest.continuu.ms/retention-period must say how long data is kept,
#   as an ISO 8601 duration (P30D, P1Y) or a number of days, weeks, months
#   or years (30d, 6 months); "forever" or "tbd" is not a retention period.
# custom:
#   id: gdpr-retention-period
#   severity: medium
#   remediation: Write the retention period as P30D, P1Y or 30d.
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob]
#   controls: ["GDPR:Art.5(1)(e)", "GDPR:Art.30"]
violation contains {"violated": true, "message": msg, "severity": "medium", "details": d} if {
	input.resource.kind in lib.workload_kinds
	v := lib.annotations[retention_key]
	not valid_retention(trim_space(sprintf("%v", [v])))
	msg := sprintf("%v %v has an invalid GDPR retention period %q", [input.resource.kind, input.resource.metadata.name, v])
	d := {"field": sprintf("metadata.annotations[%q]", [retention_key])}
}

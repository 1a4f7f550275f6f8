package attest.compliance

import data.attest.lib

# SOC2: ownership, change management and audit logging.

owner_keys := ["owner", "team", "app.kubernetes.io/owner", "attest.continuu.ms/owner"]

has_owner if {
	some k in owner_keys
	trim_space(sprintf("%v", [lib.meta_value(k)])) != ""
}

# METADATA
# title: Workloads must name an owner
# description: >-
#   Every workload needs an accountable team: a label owner or team (or
#   app.kubernetes.io/owner), on the resource or its pod template, so
#   incidents and access reviews reach someone.
# custom:
#   id: soc2-owner
#   severity: low
#   remediation: Add a label owner (or team) with the owning team's name to the workload.
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob]
#   controls: ["SOC2:CC1.3", "SOC2:CC2.1", "SOC2:CC6.2"]
violation contains {"violated": true, "message": msg, "severity": "low", "details": d} if {
	input.resource.kind in lib.workload_kinds
	input.resource.kind != "PodTemplate"
	not has_owner
	msg := sprintf("%v %v names no owner (label owner or team)", [input.resource.kind, input.resource.metadata.name])
	d := {"field": lib.deepest("", input.resource, ["metadata", "labels"])}
}

change_ticket_annotation := "change.attest.continuu.ms/ticket"

# METADATA
# title: Production changes must reference a change ticket
# description: >-
#   SOC2 change management asks that every production change is authorised.
#   A production workload carries the ticket that approved it in the
#   change.attest.continuu.ms/ticket annotation (CI can stamp it).
# custom:
#   id: soc2-change-ticket
#   severity: low
#   remediation: Annotate the workload with change.attest.continuu.ms/ticket, e.g. CHG-1234 (your pipeline can add it).
#   kinds: [Deployment, StatefulSet, DaemonSet, CronJob]
#   controls: ["SOC2:CC8.1"]
violation contains {"violated": true, "message": msg, "severity": "low", "details": d} if {
	input.resource.kind in {"Deployment", "StatefulSet", "DaemonSet", "CronJob"}
	is_production_namespace
	trim_space(object.get(lib.annotations, change_ticket_annotation, "")) == ""
	msg := sprintf("Production %v %v references no change ticket (%v)", [input.resource.kind, input.resource.metadata.name, change_ticket_annotation])
	d := {"field": lib.deepest("", input.resource, ["metadata", "annotations"])}
}

# METADATA
# title: Production workloads must enable audit logging
# description: >-
#   The specification's soc2-audit-logging rule covers Deployments; this one
#   covers production StatefulSets, DaemonSets, CronJobs and Jobs.
# custom:
#   id: soc2-audit-logging-workloads
#   severity: high
#   remediation: Ship the audit log and annotate the workload with audit.attest.continuu.ms/enabled "true".
#   kinds: [StatefulSet, DaemonSet, Job, CronJob]
#   controls: ["SOC2:CC7.2", "SOC2:CC7.3", "HIPAA:164.312(b)"]
violation contains {"violated": true, "message": msg, "severity": "high", "details": d} if {
	input.resource.kind in {"StatefulSet", "DaemonSet", "Job", "CronJob"}
	is_production_namespace
	not has_audit_logging_enabled
	msg := sprintf("Production %v %v must enable audit logging for SOC2 compliance", [input.resource.kind, input.resource.metadata.name])
	d := {"field": lib.deepest("", input.resource, ["metadata", "annotations"])}
}

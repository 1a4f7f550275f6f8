package attest.compliance

import data.attest.lib

# HIPAA: classification, encryption and audit logging of workloads that
# handle protected health information (PHI).

hipaa := object.get(lib.compliance, "hipaa", {})

# hipaa_enabled: compliance.hipaa.enabled is true in the configuration.
hipaa_enabled if hipaa.enabled == true

# METADATA
# title: Workloads must carry a data classification (HIPAA)
# description: >-
#   With HIPAA enabled in the compliance configuration (and phi_detection
#   not disabled), every workload must say what data it handles with the
#   data.attest.continuu.ms/classification label, so PHI workloads get the
#   controls below. Quiet unless compliance.hipaa.enabled is true.
# custom:
#   id: hipaa-data-classification
#   severity: medium
#   remediation: >-
#     Label the workload data.attest.continuu.ms/classification with one of
#     public, internal, confidential, personal, pii, sensitive-personal, phi.
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob]
#   controls: ["HIPAA:164.308(a)(1)(ii)(A)", "SOC2:C1.1"]
violation contains {"violated": true, "message": msg, "severity": "medium", "details": d} if {
	hipaa_enabled
	object.get(hipaa, ["data_classification", "phi_detection"], "enabled") != "disabled"
	input.resource.kind in lib.workload_kinds
	input.resource.kind != "PodTemplate"
	not lib.meta_value(lib.classification_key)
	msg := sprintf("%v %v has no data classification (label %v)", [input.resource.kind, input.resource.metadata.name, lib.classification_key])
	d := {"field": lib.deepest("", input.resource, ["metadata", "labels"])}
}

encryption_annotations := {
	"at_rest": "hipaa.attest.continuu.ms/encryption-at-rest",
	"in_transit": "hipaa.attest.continuu.ms/encryption-in-transit",
}

# encryption_required(which): required unless the configuration says
# otherwise (compliance.hipaa.encryption.at_rest / in_transit).
encryption_required(which) if object.get(object.get(hipaa, "encryption", {}), which, "required") == "required"

declared(key) if {
	v := lower(trim_space(sprintf("%v", [lib.meta_value(key)])))
	not v in {"", "false", "none", "no", "disabled"}
}

# METADATA
# title: PHI workloads must declare encryption at rest
# description: >-
#   A workload that handles PHI must declare how its data is encrypted at
#   rest (hipaa.attest.continuu.ms/encryption-at-rest, e.g. "kms",
#   "encrypted-storage-class").
# custom:
#   id: hipaa-encryption-at-rest
#   severity: high
#   remediation: >-
#     Store PHI on encrypted volumes (an encrypted StorageClass or KMS) and
#     annotate the workload hipaa.attest.continuu.ms/encryption-at-rest.
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob]
#   controls: ["HIPAA:164.312(a)(2)(iv)", "HIPAA:164.312(e)(2)(ii)", "SOC2:CC6.1"]
violation contains v if {
	some ["at_rest", v] in missing_encryption
}

# METADATA
# title: PHI workloads must declare encryption in transit
# description: >-
#   A workload that handles PHI must declare how traffic to it is encrypted
#   (hipaa.attest.continuu.ms/encryption-in-transit, e.g. "mtls", "tls").
# custom:
#   id: hipaa-encryption-in-transit
#   severity: high
#   remediation: >-
#     Serve PHI only over TLS or a mesh with mTLS and annotate the workload
#     hipaa.attest.continuu.ms/encryption-in-transit.
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob]
#   controls: ["HIPAA:164.312(e)(1)", "HIPAA:164.312(e)(2)(ii)", "SOC2:CC6.7"]
violation contains v if {
	some ["in_transit", v] in missing_encryption
}

# missing_encryption holds [which, finding] for each encryption a PHI
# workload must declare and does not.
missing_encryption contains [which, {"violated": true, "message": msg, "severity": "high", "details": d}] if {
	some which in ["at_rest", "in_transit"]
	input.resource.kind in lib.workload_kinds
	input.resource.kind != "PodTemplate"
	lib.processes_phi
	encryption_required(which)
	key := encryption_annotations[which]
	not declared(key)
	msg := sprintf("%v %v handles PHI but declares no encryption %v (%v)", [input.resource.kind, input.resource.metadata.name, replace(which, "_", " "), key])
	d := {"field": lib.deepest("", input.resource, ["metadata", "annotations"])}
}

# reported_by_soc2: the specification's SOC2 rule already reports this
# resource for audit logging.
reported_by_soc2 if {
	input.resource.kind in {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}
	is_production_namespace
}

# METADATA
# title: PHI workloads must enable audit logging
# description: >-
#   HIPAA's audit controls apply to every system that handles PHI, in any
#   environment. Production workloads already reported by the SOC2 audit
#   rules are not reported twice. Quiet when
#   compliance.hipaa.access_controls.audit_logging is "optional".
# custom:
#   id: hipaa-audit-logging
#   severity: high
#   remediation: Ship the audit log and annotate the workload with audit.attest.continuu.ms/enabled "true".
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob]
#   controls: ["HIPAA:164.312(b)", "SOC2:CC7.2"]
violation contains {"violated": true, "message": msg, "severity": "high", "details": d} if {
	input.resource.kind in lib.workload_kinds
	input.resource.kind != "PodTemplate"
	lib.processes_phi
	object.get(hipaa, ["access_controls", "audit_logging"], "required") != "optional"
	not has_audit_logging_enabled
	not reported_by_soc2
	msg := sprintf("%v %v handles PHI but does not enable audit logging", [input.resource.kind, input.resource.metadata.name])
	d := {"field": lib.deepest("", input.resource, ["metadata", "annotations"])}
}

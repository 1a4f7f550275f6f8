package attest.deployment

import data.attest.lib

# Availability of replicated workloads: replicas, spreading, rollouts and
# disruption budgets.

replicas := object.get(input.resource, ["spec", "replicas"], 1)

# METADATA
# title: Production StatefulSets and ReplicaSets need at least 2 replicas
# description: >-
#   The specification's production-replicas rule covers Deployments; this
#   one covers the other replicated kinds in production.
# custom:
#   id: production-replicas-workloads
#   severity: medium
#   remediation: Set spec.replicas to 2 or more.
#   kinds: [StatefulSet, ReplicaSet, ReplicationController]
#   controls: ["SOC2:A1.1", "SOC2:A1.2", "HIPAA:164.308(a)(7)"]
violation contains {"violated": true, "message": msg, "severity": "medium", "details": {"field": "spec.replicas"}} if {
	input.resource.kind in {"StatefulSet", "ReplicaSet", "ReplicationController"}
	is_production_namespace
	input.resource.spec.replicas < 2
	msg := sprintf("Production %v %v must have at least 2 replicas for high availability", [input.resource.kind, input.resource.metadata.name])
}

spread if lib.pod_spec.affinity.podAntiAffinity

spread if count(object.get(lib.pod_spec, "topologySpreadConstraints", [])) > 0

# METADATA
# title: Production replicas should be spread across nodes
# description: >-
#   Replicas that the scheduler may put on one node (no podAntiAffinity, no
#   topologySpreadConstraints) all go down with that node.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/scheduling-eviction/topology-spread-constraints/
# custom:
#   id: production-spread
#   severity: low
#   remediation: >-
#     Add topologySpreadConstraints over kubernetes.io/hostname (and
#     topology.kubernetes.io/zone), or a preferred podAntiAffinity.
#   kinds: [Deployment, StatefulSet, ReplicaSet, ReplicationController]
#   controls: ["SOC2:A1.2", "HIPAA:164.308(a)(7)"]
violation contains {"violated": true, "message": msg, "severity": "low", "details": d} if {
	input.resource.kind in lib.replicated_kinds
	is_production_namespace
	replicas >= 2
	not spread
	msg := sprintf("%v %v does not spread its %v replicas across nodes", [input.resource.kind, input.resource.metadata.name, replicas])
	d := {"field": lib.deepest(lib.pod_spec_path, lib.pod_spec, ["topologySpreadConstraints"])}
}

# unavailable_all(v, n): maxUnavailable v takes all n pods down at once.
unavailable_all(v, n) if {
	is_number(v)
	v >= n
}

unavailable_all(v, _) if {
	is_string(v)
	endswith(v, "%")
	to_number(trim_suffix(v, "%")) >= 100
}

# METADATA
# title: Rolling updates must keep pods available
# description: >-
#   A rollingUpdate.maxUnavailable of 100% (or of the replica count) takes
#   every pod down at once during a rollout.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#strategy
# custom:
#   id: rolling-update-unavailable
#   severity: medium
#   remediation: Lower maxUnavailable (for instance 25% or 1) and use maxSurge to roll faster.
#   kinds: [Deployment, DaemonSet, StatefulSet]
#   controls: ["SOC2:A1.1", "SOC2:CC8.1"]
violation contains {"violated": true, "message": msg, "severity": "medium", "details": {"field": field}} if {
	some [kind, key] in [["Deployment", "strategy"], ["DaemonSet", "updateStrategy"], ["StatefulSet", "updateStrategy"]]
	input.resource.kind == kind
	v := input.resource.spec[key].rollingUpdate.maxUnavailable
	n := object.get(input.resource, ["spec", "replicas"], 1)
	unavailable_all(v, {true: 1, false: n}[kind == "DaemonSet"])
	field := sprintf("spec.%s.rollingUpdate.maxUnavailable", [key])
	msg := sprintf("%v %v can take all pods down during a rollout (maxUnavailable: %v)", [kind, input.resource.metadata.name, v])
}

# METADATA
# title: Production Deployments should not use the Recreate strategy
# description: >-
#   strategy Recreate stops every pod before starting the new version: each
#   rollout is an outage.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#strategy
# custom:
#   id: recreate-strategy
#   severity: low
#   remediation: Use strategy RollingUpdate (the default), unless the application cannot run two versions at once.
#   kinds: [Deployment]
#   controls: ["SOC2:A1.1", "SOC2:CC8.1"]
violation contains {"violated": true, "message": msg, "severity": "low", "details": {"field": "spec.strategy.type"}} if {
	input.resource.kind == "Deployment"
	is_production_namespace
	input.resource.spec.strategy.type == "Recreate"
	msg := sprintf("Production Deployment %v uses the Recreate strategy: every rollout is an outage", [input.resource.metadata.name])
}

# METADATA
# title: PodDisruptionBudgets must allow evictions
# description: >-
#   maxUnavailable 0 (or minAvailable 100%) blocks every voluntary eviction:
#   node drains, cluster upgrades and autoscaler scale-downs hang.
# related_resources:
#   - ref: https://kubernetes.io/docs/tasks/run-application/configure-pdb/
# custom:
#   id: pdb-blocks-eviction
#   severity: medium
#   remediation: Allow at least one disruption (maxUnavailable 1, or a minAvailable below the replica count).
#   kinds: [PodDisruptionBudget]
#   controls: ["SOC2:A1.1", "SOC2:CC7.5"]
violation contains {"violated": true, "message": msg, "severity": "medium", "details": {"field": field}} if {
	input.resource.kind == "PodDisruptionBudget"
	some [key, blocking] in [["maxUnavailable", {0, "0%", "0"}], ["minAvailable", {"100%"}]]
	v := input.resource.spec[key]
	v in blocking
	field := concat(".", ["spec", key])
	msg := sprintf("PodDisruptionBudget %v blocks every eviction (%v: %v)", [input.resource.metadata.name, key, v])
}

# METADATA
# title: attest library helpers
# description: >-
#   Shared helpers of the built-in library: where a workload keeps its pod
#   spec and containers (with JSON paths for reports), production detection,
#   data classification, audit logging and Kubernetes quantities. This
#   package has no rules of its own; the policies import it.
# scope: package
package attest.lib

# workload_kinds are the kinds that carry a pod spec.
workload_kinds := {
	"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet",
	"ReplicationController", "Job", "CronJob", "PodTemplate",
}

# template_kinds keep their pod spec under spec.template.spec.
template_kinds := {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job"}

# long_running_kinds run pods that are expected to stay up (not batch).
long_running_kinds := {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController"}

# replicated_kinds have a spec.replicas field.
replicated_kinds := {"Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"}

is_workload if input.resource.kind in workload_kinds

# pod_spec_path is the dotted JSON path of the resource's pod spec.
pod_spec_path := "spec" if input.resource.kind == "Pod"

pod_spec_path := "spec.template.spec" if input.resource.kind in template_kinds

pod_spec_path := "spec.jobTemplate.spec.template.spec" if input.resource.kind == "CronJob"

pod_spec_path := "template.spec" if input.resource.kind == "PodTemplate"

# pod_meta_path is the dotted JSON path of the metadata the pods get
# ("metadata" for a Pod itself).
pod_meta_path := "metadata" if input.resource.kind == "Pod"

pod_meta_path := "spec.template.metadata" if input.resource.kind in template_kinds

pod_meta_path := "spec.jobTemplate.spec.template.metadata" if input.resource.kind == "CronJob"

pod_meta_path := "template.metadata" if input.resource.kind == "PodTemplate"

# pod_spec is the resource's pod spec, undefined for other kinds.
pod_spec := object.get(input.resource, split(pod_spec_path, "."), null)

# pod_meta is the pods' metadata ({} when the template has none).
pod_meta := object.get(input.resource, split(pod_meta_path, "."), {})

# container_types are the pod spec fields that hold containers.
container_types := ["initContainers", "containers", "ephemeralContainers"]

# containers holds one entry per container of any workload kind:
# {"container": <object>, "path": "<JSON path>", "type": <container_types
# entry>, "name": <name>}. Paths look like spec.template.spec.containers[1].
containers contains {"container": c, "path": path, "type": t, "name": object.get(c, "name", "")} if {
	spec := pod_spec
	is_object(spec)
	some t in container_types
	some i, c in object.get(spec, t, [])
	path := sprintf("%s.%s[%d]", [pod_spec_path, t, i])
}

# app_containers are the containers that run for the pod's life (not init,
# not ephemeral debug containers).
app_containers contains e if {
	some e in containers
	e.type == "containers"
}

# images holds {"image", "path", "name"} for every container image.
images contains {"image": e.container.image, "path": concat("", [e.path, ".image"]), "name": e.name} if {
	some e in containers
	is_string(e.container.image)
}

# deepest(prefix, obj, keys) is the JSON path of the deepest existing field
# along keys under obj, whose own path is prefix: the place a report points
# at when the field it asks for is missing.
deepest(prefix, obj, keys) := path if {
	n := max({i |
		some i in numbers.range(0, count(keys))
		object.get(obj, array.slice(keys, 0, i), null) != null
	})
	parts := array.concat([prefix], array.slice(keys, 0, n))
	path := concat(".", [p | some p in parts; p != ""])
}

# labels and annotations of the resource itself ({} when absent).
labels := object.get(input.resource, ["metadata", "labels"], {})

annotations := object.get(input.resource, ["metadata", "annotations"], {})

# meta_value(key) is the value of key among the resource's annotations or
# labels, or the pod template's annotations or labels (first found in that
# order).
meta_value(key) := v if {
	v := annotations[key]
} else := v if {
	v := labels[key]
} else := v if {
	v := object.get(pod_meta, ["annotations", key], null)
	v != null
} else := v if {
	v := object.get(pod_meta, ["labels", key], null)
	v != null
}

# ---- context -------------------------------------------------------------

default_production_namespaces := ["production", "prod"]

production_namespaces := object.get(input, ["context", "production_namespaces"], default_production_namespaces)

# is_production_namespace: the resource's namespace is one of
# input.context.production_namespaces (default ["production", "prod"]), or
# the resource is labelled environment: production.
is_production_namespace if input.resource.metadata.namespace in production_namespaces

is_production_namespace if input.resource.metadata.labels.environment == "production"

# require_attestation: the project asked for attested images and receipts
# (image-security's require_attestation: true). Default false.
require_attestation if input.context.require_attestation == true

compliance := object.get(input, ["context", "compliance"], {})

# ---- audit logging (SOC2 CC7.2, HIPAA 164.312(b)) ------------------------

audit_annotation := "audit.attest.continuu.ms/enabled"

# has_audit_logging_enabled: the workload declares that its audit trail is
# shipped, with audit.attest.continuu.ms/enabled: "true" on the resource or
# on its pod template (as an annotation or a label).
has_audit_logging_enabled if lower(sprintf("%v", [meta_value(audit_annotation)])) == "true"

# ---- data classification (GDPR, HIPAA) ------------------------------------

personal_data_key := "gdpr.attest.continuu.ms/personal-data"

classification_key := "data.attest.continuu.ms/classification"

personal_classes := {"personal", "pii", "sensitive-personal", "phi"}

phi_key := "hipaa.attest.continuu.ms/phi"

# processes_personal_data: the resource (or its pod template) carries
# gdpr.attest.continuu.ms/personal-data: "true", or is classified
# data.attest.continuu.ms/classification: personal|pii|sensitive-personal|phi
# (label or annotation).
processes_personal_data if lower(sprintf("%v", [meta_value(personal_data_key)])) == "true"

processes_personal_data if lower(meta_value(classification_key)) in personal_classes

# processes_phi: hipaa.attest.continuu.ms/phi: "true", or classified phi.
processes_phi if lower(sprintf("%v", [meta_value(phi_key)])) == "true"

processes_phi if lower(meta_value(classification_key)) == "phi"

# gdpr_default_annotations are the spec's three GDPR annotations.
gdpr_default_annotations := [
	"gdpr.attest.continuu.ms/lawful-basis",
	"gdpr.attest.continuu.ms/data-controller",
	"gdpr.attest.continuu.ms/retention-period",
]

# gdpr_required_annotations: compliance.gdpr.data_protection.required_annotations,
# else the three defaults.
gdpr_required_annotations := a if {
	a := compliance.gdpr.data_protection.required_annotations
	is_array(a)
	count(a) > 0
} else := gdpr_default_annotations

# gdpr_annotations_required is false only when the compliance config turns
# GDPR off (gdpr.enabled: false) or data_protection.require_annotations: false.
default gdpr_annotations_required := true

gdpr_annotations_required := false if compliance.gdpr.enabled == false

gdpr_annotations_required := false if compliance.gdpr.data_protection.require_annotations == false

# missing_gdpr_annotations: the required annotations that are absent or
# empty on the resource (its own metadata.annotations).
missing_gdpr_annotations contains a if {
	gdpr_annotations_required
	some a in gdpr_required_annotations
	trim_space(sprintf("%v", [object.get(annotations, a, "")])) == ""
}

# has_data_protection_annotations: every required GDPR annotation is
# present and non-empty, or the compliance config does not require them.
has_data_protection_annotations if count(missing_gdpr_annotations) == 0

# ---- images ---------------------------------------------------------------

# image_has_digest: the reference pins a digest (name@sha256:...).
image_has_digest(image) if contains(image, "@")

# image_tag is the tag of an image reference ("" when there is none). A
# colon in the last path segment is a tag; one before a slash is a
# registry port.
image_tag(image) := tag if {
	name := split(image, "@")[0]
	parts := split(name, "/")
	last := parts[count(parts) - 1]
	contains(last, ":")
	tag := substring(last, indexof(last, ":") + 1, -1)
} else := ""

# ---- Kubernetes quantities ------------------------------------------------

# quantity(q) is the value of a Kubernetes resource quantity as a number:
# cpu in cores, memory in bytes. Suffixes follow k8s.io/apimachinery:
# binary Ki Mi Gi Ti Pi Ei, decimal n u m "" k M G T P E (m is milli, M is
# mega), and decimal exponents (1e3, 1E3). Numbers are taken as they are.
# Undefined for anything Kubernetes would reject (e.g. "1K", "2 Gi", "abc"),
# and, on purpose, for a quantity with no digits ("Mi", "k", ".", "-"): the
# API server reads those as 0, a limit nobody writes on purpose.
# OPA's units.parse_bytes is not used: it reads "m" as mega in any case
# ("2000m" gives 2e9) and truncates fractions ("0.5" gives 0); units.parse
# gets m right but rejects n and u and accepts "1K", which Kubernetes does not.
quantity(q) := q if {
	is_number(q)
} else := n if {
	# The common forms ("500m", "2", "1.5Gi", "1e3"): one regular
	# expression, and no rewriting of the mantissa.
	is_string(q)
	[_, m, exp, suffix] := regex.find_all_string_submatch_n(`^(-?[0-9]+(?:\.[0-9]+)?)(?:([eE][+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E))?$`, q, 1)[0]
	n := _scaled(m, exp, suffix)
} else := n if {
	# The rest of Kubernetes' grammar: "+1", ".5", "-.5", "1.".
	is_string(q)
	[_, m, exp, suffix] := regex.find_all_string_submatch_n(`^([+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+))(?:([eE][+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E))?$`, q, 1)[0]
	n := _scaled(_normal_decimal(m), exp, suffix)
}

# A plain mantissa ("500", "1.5", "-2") is taken as it is; "+1", ".5",
# "-.5" and "1." are rewritten into what to_number takes.
_normal_decimal(s) := x if {
	t := trim_left(s, "+")
	a := _leading_zero(t)
	x := _trailing_zero(a)
}

_leading_zero(s) := concat("", ["-0", substring(s, 1, -1)]) if startswith(s, "-.")

else := concat("", ["0", s]) if startswith(s, ".")

else := s

_trailing_zero(s) := concat("", [s, "0"]) if endswith(s, ".")

else := s

# _scaled(mantissa, exponent, suffix): mantissa is a decimal string; only
# one of exponent ("e3") and suffix is non-empty. A decimal suffix becomes
# an exponent in the number's text ("500m" is 500e-3), which is exact and
# spares a division (OPA's is several times dearer than the regular
# expression). The multiplication by 1 writes every result as arithmetic
# does: 2000 for "2k", 3 for "3000m" (so %d and substring take it), 1000
# for "1e3", and 7 for "007", whose own text is not a JSON number.
# A binary suffix multiplies.
_scaled(m, exp, suffix) := to_number(concat("", [m, exp, e])) * 1 if {
	e := _exponent[suffix]
} else := to_number(m) * _binary[suffix]

_exponent := {
	"": "",
	"n": "e-9",
	"u": "e-6",
	"m": "e-3",
	"k": "e3",
	"M": "e6",
	"G": "e9",
	"T": "e12",
	"P": "e15",
	"E": "e18",
}

_binary := {
	"Ki": 1024,
	"Mi": 1048576,
	"Gi": 1073741824,
	"Ti": 1099511627776,
	"Pi": 1125899906842624,
	"Ei": 1152921504606846976,
}

package attest.lib_test

import data.attest.fixtures as f
import data.attest.lib

quantities := [
	{"note": "millicores", "q": "2000m", "want": 2},
	{"note": "cores", "q": "2", "want": 2},
	{"note": "fraction", "q": "0.5", "want": 0.5},
	{"note": "leading dot", "q": ".5", "want": 0.5},
	{"note": "100m", "q": "100m", "want": 0.1},
	{"note": "Gi", "q": "4Gi", "want": 4294967296},
	{"note": "Mi", "q": "500Mi", "want": 524288000},
	{"note": "Ki", "q": "64Ki", "want": 65536},
	{"note": "G decimal", "q": "1G", "want": 1000000000},
	{"note": "M is mega", "q": "129M", "want": 129000000},
	{"note": "k", "q": "1k", "want": 1000},
	{"note": "exponent", "q": "1e3", "want": 1000},
	{"note": "exponent E", "q": "129E6", "want": 129000000},
	{"note": "E is exa", "q": "1E", "want": 1000000000000000000},
	{"note": "plain bytes", "q": "128974848", "want": 128974848},
	{"note": "fractional Gi", "q": "1.5Gi", "want": 1610612736},
	{"note": "micro", "q": "250u", "want": 0.00025},
	{"note": "number", "q": 3, "want": 3},
	{"note": "float number", "q": 0.25, "want": 0.25},
	{"note": "plus sign", "q": "+1", "want": 1},
	{"note": "trailing dot", "q": "1.", "want": 1},
	{"note": "negative leading dot", "q": "-.5", "want": -0.5},
	{"note": "negative", "q": "-2", "want": -2},
	{"note": "plus with suffix", "q": "+1.5Gi", "want": 1610612736},
	{"note": "trailing dot with suffix", "q": "2.m", "want": 0.002},
	{"note": "nano", "q": "5n", "want": 0.000000005},
]

# Every case, not just some: a partial set test passes when any one does.
test_quantity_every_case if {
	good := {c.note | some c in quantities; lib.quantity(c.q) == c.want}
	count(good) == count(quantities)
}

test_quantity[note] if {
	some c in quantities
	note := c.note
	lib.quantity(c.q) == c.want
}

invalid_quantities := ["1K", "2 Gi", "abc", "1Gb", "", "1e", "Mi", "k", ".", "-", "+", "500MB", "1.2.3", true, null]

test_quantity_invalid[note] if {
	some q in invalid_quantities
	note := sprintf("%v", [q])
	not lib.quantity(q)
}

# The value is written as arithmetic writes it: integers print as integers
# and can be used where OPA wants one.
test_quantity_prints_as_a_plain_number if {
	sprintf("%v %v %v %v", [lib.quantity("2k"), lib.quantity("1G"), lib.quantity("500m"), lib.quantity("1e3")]) == "2000 1000000000 0.5 1000"
	sprintf("%d", [lib.quantity("3000m")]) == "3"
	substring("abcdef", 0, lib.quantity("3000m")) == "abc"

	# Leading zeros are a valid quantity but not a JSON number: the value
	# must still serialise.
	json.marshal([lib.quantity("007"), lib.quantity("00"), lib.quantity("-0")]) == "[7,0,0]"
}

test_quantity_milli_is_not_mega if {
	lib.quantity("2000m") < lib.quantity("3")
	lib.quantity("1M") > lib.quantity("1m")
}

test_container_paths[kind] if {
	some kind in f.kinds
	spec := {
		"initContainers": [f.container("init", {})],
		"containers": [f.container("a", {}), f.container("b", {})],
		"ephemeralContainers": [f.container("debug", {})],
	}
	paths := {[e.name, e.path] | some e in lib.containers} with input as f.input_for(f.workload(kind, spec))
	p := f.spec_path[kind]
	paths == {
		["init", sprintf("%s.initContainers[0]", [p])],
		["a", sprintf("%s.containers[0]", [p])],
		["b", sprintf("%s.containers[1]", [p])],
		["debug", sprintf("%s.ephemeralContainers[0]", [p])],
	}
}

test_no_containers_for_other_kinds if {
	count(lib.containers) == 0 with input as f.input_for({"kind": "Service", "spec": {"containers": [{"name": "x"}]}})
}

test_deepest if {
	lib.deepest("spec.containers[0]", {"securityContext": {}}, ["securityContext", "capabilities", "drop"]) == "spec.containers[0].securityContext"
	lib.deepest("spec.containers[0]", {}, ["securityContext"]) == "spec.containers[0]"
	lib.deepest("", {"spec": {"tls": []}}, ["spec", "tls"]) == "spec.tls"
	lib.deepest("", {}, ["metadata", "labels"]) == ""
}

image_tags := [
	{"image": "nginx", "tag": ""},
	{"image": "nginx:1.27", "tag": "1.27"},
	{"image": "registry:5000/team/nginx", "tag": ""},
	{"image": "registry:5000/team/nginx:latest", "tag": "latest"},
	{"image": "nginx:1.2@sha256:abc", "tag": "1.2"},
	{"image": "nginx@sha256:abc", "tag": ""},
]

test_image_tag[c.image] if {
	some c in image_tags
	lib.image_tag(c.image) == c.tag
}

test_production_namespace_defaults if {
	lib.is_production_namespace with input as f.input_for({"metadata": {"namespace": "prod"}})
	lib.is_production_namespace with input as f.input_for({"metadata": {"namespace": "production"}})
	not lib.is_production_namespace with input as f.input_for({"metadata": {"namespace": "staging"}})
	not lib.is_production_namespace with input as f.input_for({"metadata": {}})
}

test_production_namespace_from_context if {
	inp := f.input_with({"metadata": {"namespace": "live"}}, {}, {"production_namespaces": ["live"]})
	lib.is_production_namespace with input as inp
	not lib.is_production_namespace with input as f.input_with({"metadata": {"namespace": "prod"}}, {}, {"production_namespaces": ["live"]})
}

test_production_label if {
	lib.is_production_namespace with input as f.input_for({"metadata": {"namespace": "x", "labels": {"environment": "production"}}})
}

test_audit_logging if {
	d := f.workload("Deployment", {"containers": []})
	not lib.has_audit_logging_enabled with input as f.input_for(d)
	lib.has_audit_logging_enabled with input as f.input_for(f.with_meta(d, "annotations", {"audit.attest.continuu.ms/enabled": "true"}))
	lib.has_audit_logging_enabled with input as f.input_for(json.patch(d, [{"op": "add", "path": "/spec/template/metadata/annotations", "value": {"audit.attest.continuu.ms/enabled": "True"}}]))
	not lib.has_audit_logging_enabled with input as f.input_for(f.with_meta(d, "annotations", {"audit.attest.continuu.ms/enabled": "false"}))
}

test_personal_data if {
	d := f.workload("Deployment", {"containers": []})
	not lib.processes_personal_data with input as f.input_for(d)
	lib.processes_personal_data with input as f.input_for(f.with_meta(d, "labels", {"gdpr.attest.continuu.ms/personal-data": "true"}))
	lib.processes_personal_data with input as f.input_for(f.with_meta(d, "labels", {"data.attest.continuu.ms/classification": "PII"}))
	lib.processes_personal_data with input as f.input_for(f.with_meta(d, "labels", {"data.attest.continuu.ms/classification": "phi"}))
	not lib.processes_personal_data with input as f.input_for(f.with_meta(d, "labels", {"data.attest.continuu.ms/classification": "internal"}))
}

gdpr_all := {
	"gdpr.attest.continuu.ms/lawful-basis": "contract",
	"gdpr.attest.continuu.ms/data-controller": "Company Ltd",
	"gdpr.attest.continuu.ms/retention-period": "P1Y",
}

test_data_protection_annotations if {
	d := f.workload("Deployment", {"containers": []})
	lib.has_data_protection_annotations with input as f.input_for(f.with_meta(d, "annotations", gdpr_all))
	not lib.has_data_protection_annotations with input as f.input_for(d)
	partial := json.remove(gdpr_all, ["gdpr.attest.continuu.ms~1lawful-basis"])
	lib.missing_gdpr_annotations == {"gdpr.attest.continuu.ms/lawful-basis"} with input as f.input_for(f.with_meta(d, "annotations", partial))
}

test_data_protection_annotations_configured if {
	d := f.with_meta(f.workload("Deployment", {"containers": []}), "annotations", {"dpo": "x"})
	ctx := {"compliance": {"gdpr": {"data_protection": {"required_annotations": ["dpo"]}}}}
	lib.has_data_protection_annotations with input as f.input_with(d, {}, ctx)
	ctx2 := {"compliance": {"gdpr": {"data_protection": {"required_annotations": ["dpo", "other"]}}}}
	not lib.has_data_protection_annotations with input as f.input_with(d, {}, ctx2)
	off := {"compliance": {"gdpr": {"enabled": false}}}
	lib.has_data_protection_annotations with input as f.input_with(f.workload("Deployment", {}), {}, off)
}

package attest.compliance_test

import data.attest.compliance
import data.attest.fixtures as f

gdpr_workload_cases := [
	{
		"note": "statefulset missing two",
		"resource": annotate(personal(f.workload("StatefulSet", {})), {"gdpr.attest.continuu.ms/lawful-basis": "consent"}),
		"needle": "GDPR annotations",
		"want": {["StatefulSet w processes personal data but lacks GDPR annotations: gdpr.attest.continuu.ms/data-controller, gdpr.attest.continuu.ms/retention-period", "high", "metadata.annotations"]},
	},
	{"note": "deployment left to the spec rule", "resource": personal(f.workload("Deployment", {})), "needle": "lacks GDPR annotations", "want": set()},
	{"note": "cronjob annotated", "resource": annotate(personal(f.workload("CronJob", {})), gdpr_all), "needle": "GDPR", "want": set()},
	{
		"note": "bad retention",
		"resource": annotate(personal(f.workload("Job", {})), object.union(gdpr_all, {"gdpr.attest.continuu.ms/retention-period": "forever"})),
		"needle": "retention",
		"want": {["Job w has an invalid GDPR retention period \"forever\"", "medium", "metadata.annotations[\"gdpr.attest.continuu.ms/retention-period\"]"]},
	},
]

test_gdpr_workloads[note] if {
	some c in gdpr_workload_cases
	note := c.note
	found(c.resource, {}, c.needle) == c.want
}

retention_values := [
	{"v": "P30D", "ok": true},
	{"v": "P1Y6M", "ok": true},
	{"v": "30d", "ok": true},
	{"v": "6 months", "ok": true},
	{"v": "2y", "ok": true},
	{"v": "P", "ok": false},
	{"v": "tbd", "ok": false},
	{"v": "forever", "ok": false},
]

test_retention_format[c.v] if {
	some c in retention_values
	valid := count([1 | compliance.valid_retention(c.v)]) == 1
	valid == c.ok
}

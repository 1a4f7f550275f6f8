package attest.compliance_test

import data.attest.compliance
import data.attest.fixtures as f

results(inp) := v if v := compliance.violation with input as inp

messages(inp) := {v.message | some v in results(inp)}

found(resource, ctx, needle) := {[v.message, v.severity, object.get(v, ["details", "field"], "")] |
	some v in results(f.input_with(resource, {}, ctx))
	contains(v.message, needle)
}

owned(r) := f.with_meta(r, "labels", {"owner": "payments"})

prod(r) := json.patch(r, [{"op": "add", "path": "/metadata/namespace", "value": "production"}])

annotate(r, a) := json.patch(r, [{"op": "add", "path": "/metadata/annotations", "value": a}])

app := owned(f.workload("Deployment", f.hardened_spec([f.hardened("app")])))

audit_msg := "Production deployments must enable audit logging for SOC2 compliance"

audit_cases := [
	{"note": "production without audit", "resource": prod(app), "want": true},
	{"note": "production with audit", "resource": annotate(prod(app), {"audit.attest.continuu.ms/enabled": "true", "change.attest.continuu.ms/ticket": "CHG-1"}), "want": false},
	{"note": "staging", "resource": app, "want": false},
	{"note": "label environment production", "resource": f.with_meta(app, "labels", {"environment": "production", "owner": "x"}), "want": true},
]

test_soc2_audit_logging[note] if {
	some c in audit_cases
	note := c.note
	(audit_msg in messages(f.input_for(c.resource))) == c.want
}

gdpr_msg := "Applications processing personal data must have GDPR data protection annotations"

personal(r) := f.with_meta(r, "labels", {"owner": "x", "gdpr.attest.continuu.ms/personal-data": "true"})

gdpr_all := {
	"gdpr.attest.continuu.ms/lawful-basis": "contract",
	"gdpr.attest.continuu.ms/data-controller": "Company Ltd",
	"gdpr.attest.continuu.ms/retention-period": "P2Y",
}

gdpr_cases := [
	{"note": "personal data, no annotations", "resource": personal(app), "ctx": {}, "want": true},
	{"note": "personal data, annotated", "resource": annotate(personal(app), gdpr_all), "ctx": {}, "want": false},
	{"note": "no personal data", "resource": app, "ctx": {}, "want": false},
	{"note": "gdpr disabled", "resource": personal(app), "ctx": {"compliance": {"gdpr": {"enabled": false}}}, "want": false},
	{
		"note": "configured annotation list",
		"resource": annotate(personal(app), {"dpo": "x"}),
		"ctx": {"compliance": {"gdpr": {"enabled": true, "data_protection": {"require_annotations": true, "required_annotations": ["dpo"]}}}},
		"want": false,
	},
]

test_gdpr_data_protection[note] if {
	some c in gdpr_cases
	note := c.note
	(gdpr_msg in messages(f.input_with(c.resource, {}, c.ctx))) == c.want
}

test_spec_rule_results_are_verbatim if {
	some v in results(f.input_for(prod(app)))
	v == {"violated": true, "message": audit_msg, "severity": "high"}
}

package attest.compliance_test

import data.attest.fixtures as f

hipaa_on := {"compliance": {"hipaa": {"enabled": true, "encryption": {"at_rest": "required", "in_transit": "required"}, "access_controls": {"audit_logging": "required"}}}}

phi(r) := f.with_meta(r, "labels", {"owner": "x", "data.attest.continuu.ms/classification": "phi"})

encrypted := {
	"hipaa.attest.continuu.ms/encryption-at-rest": "kms",
	"hipaa.attest.continuu.ms/encryption-in-transit": "mtls",
	"audit.attest.continuu.ms/enabled": "true",
}

hipaa_cases := [
	{
		"note": "classification required when hipaa enabled",
		"resource": owned(f.workload("Deployment", {})), "ctx": hipaa_on, "needle": "classification",
		"want": {["Deployment w has no data classification (label data.attest.continuu.ms/classification)", "medium", "metadata.labels"]},
	},
	{"note": "classification not required by default", "resource": owned(f.workload("Deployment", {})), "ctx": {}, "needle": "classification", "want": set()},
	{"note": "classified", "resource": phi(f.workload("Deployment", {})), "ctx": hipaa_on, "needle": "classification", "want": set()},
	{
		"note": "phi without encryption or audit",
		"resource": phi(f.workload("Deployment", {})), "ctx": {}, "needle": "PHI",
		"want": {
			["Deployment w handles PHI but declares no encryption at rest (hipaa.attest.continuu.ms/encryption-at-rest)", "high", "metadata"],
			["Deployment w handles PHI but declares no encryption in transit (hipaa.attest.continuu.ms/encryption-in-transit)", "high", "metadata"],
			["Deployment w handles PHI but does not enable audit logging", "high", "metadata"],
		},
	},
	{"note": "phi protected", "resource": annotate(phi(f.workload("Deployment", {})), encrypted), "ctx": hipaa_on, "needle": "PHI", "want": set()},
	{
		"note": "encryption declared as none",
		"resource": annotate(phi(f.workload("Pod", {})), object.union(encrypted, {"hipaa.attest.continuu.ms/encryption-at-rest": "none"})),
		"ctx": {}, "needle": "PHI",
		"want": {["Pod w handles PHI but declares no encryption at rest (hipaa.attest.continuu.ms/encryption-at-rest)", "high", "metadata.annotations"]},
	},
	{
		"note": "in-transit optional by config",
		"resource": annotate(phi(f.workload("Job", {})), {"hipaa.attest.continuu.ms/encryption-at-rest": "kms", "audit.attest.continuu.ms/enabled": "true"}),
		"ctx": {"compliance": {"hipaa": {"encryption": {"in_transit": "optional"}}}}, "needle": "PHI",
		"want": set(),
	},
	{
		"note": "production audit left to SOC2",
		"resource": annotate(prod(phi(f.workload("Deployment", {}))), object.union(json.remove(encrypted, ["audit.attest.continuu.ms~1enabled"]), {"change.attest.continuu.ms/ticket": "CHG-1"})),
		"ctx": {}, "needle": "PHI",
		"want": set(),
	},
	{"note": "no phi", "resource": owned(f.workload("Deployment", {})), "ctx": {}, "needle": "PHI", "want": set()},
]

test_hipaa[note] if {
	some c in hipaa_cases
	note := c.note
	found(c.resource, c.ctx, c.needle) == c.want
}

package company.compliance_test

import data.company.compliance

base := {
	"apiVersion": "apps/v1",
	"kind": "Deployment",
	"metadata": {
		"name": "api",
		"namespace": "production",
		"labels": {"team": "shop", "owner": "alice"},
		"annotations": {"monitoring.company.com/enabled": "true"},
	},
	"spec": {"template": {"spec": {"containers": [{"name": "api", "image": "registry.company.com/shop/api:1"}]}}},
}

with_meta(r, meta) := object.union(r, {"metadata": meta})

messages(resource) := {v.message | some v in compliance.violation with input as {"resource": resource}}

gdpr_annotations := {
	"gdpr.attest.continuu.ms/personal-data": "true",
	"gdpr.attest.continuu.ms/lawful-basis": "contract",
	"gdpr.attest.continuu.ms/data-controller": "Company GmbH, privacy@company.com",
	"gdpr.attest.continuu.ms/retention-period": "P30D",
}

test_compliant_deployment if {
	count(messages(base)) == 0
}

test_owner_labels if {
	r := json.remove(base, ["metadata/labels/owner"])
	messages(r) == {"Deployment 'api' has no 'owner' label"}
}

test_configmaps_need_no_owner if {
	count(messages({"kind": "ConfigMap", "metadata": {"name": "x", "namespace": "production"}})) == 0
}

test_production_monitoring if {
	r := json.patch(base, [{"op": "replace", "path": "/metadata/annotations/monitoring.company.com~1enabled", "value": "false"}])
	messages(r) == {"Deployment 'api' in production must be monitored (monitoring.company.com/enabled: \"true\")"}
	r2 := json.remove(base, ["metadata/annotations"])
	count(messages(r2)) == 1
}

test_staging_needs_no_monitoring if {
	r := with_meta(json.remove(base, ["metadata/annotations"]), {"namespace": "staging"})
	count(messages(r)) == 0
}

test_gdpr_statefulset_missing_annotations if {
	r := with_meta(object.union(base, {"kind": "StatefulSet"}), {"annotations": {
		"monitoring.company.com/enabled": "true",
		"gdpr.attest.continuu.ms/personal-data": "true",
		"gdpr.attest.continuu.ms/lawful-basis": "contract",
	}})
	messages(r) == {
		"StatefulSet 'api' processes personal data but has no gdpr.attest.continuu.ms/data-controller annotation",
		"StatefulSet 'api' processes personal data but has no gdpr.attest.continuu.ms/retention-period annotation",
	}
}

test_gdpr_deployment_left_to_builtin if {
	r := with_meta(base, {"annotations": {"monitoring.company.com/enabled": "true", "gdpr.attest.continuu.ms/personal-data": "true"}})
	count(messages(r)) == 0
}

test_gdpr_values_checked if {
	a := object.union(gdpr_annotations, {
		"monitoring.company.com/enabled": "true",
		"gdpr.attest.continuu.ms/lawful-basis": "because",
		"gdpr.attest.continuu.ms/retention-period": "30 days",
	})
	messages(with_meta(base, {"annotations": a})) == {
		"Lawful basis 'because' of Deployment 'api' is not one of consent, contract, legal-obligation, vital-interests, public-task, legitimate-interests",
		"Retention period '30 days' of Deployment 'api' is not an ISO 8601 duration (P30D, P6M, P7Y)",
	}
}

test_gdpr_valid_values if {
	a := object.union(gdpr_annotations, {"monitoring.company.com/enabled": "true"})
	count(messages(with_meta(base, {"annotations": a}))) == 0
}

test_phi_needs_mtls_and_production if {
	r := with_meta(base, {"namespace": "staging", "annotations": {"hipaa.attest.continuu.ms/phi": "true"}})
	messages(r) == {
		"Deployment 'api' handles PHI without strict mTLS",
		"Deployment 'api' handles PHI outside production (namespace staging)",
	}
}

test_phi_in_production_with_mtls if {
	r := with_meta(base, {"annotations": {
		"monitoring.company.com/enabled": "true",
		"hipaa.attest.continuu.ms/phi": "true",
		"mesh.company.com/mtls": "strict",
	}})
	count(messages(r)) == 0
}

package report

import (
	"time"

	"github.com/continuums/attest/internal/finding"
)

func date(s string) *time.Time {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return &t
}

// fixture is one realistic run: several files, stdin, an absolute path, all
// severities and enforcements, an annotation exemption, an emergency
// override, an expired exemption, an evaluation error, an input error, a
// note, a field location and an unknown line. shift moves every line down,
// as an edit above the resources would.
func fixture(shift int) *finding.Result {
	line := func(n int) int {
		if n == 0 {
			return 0
		}
		return n + shift
	}
	web := finding.ResourceRef{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "prod", Name: "web"}
	worker := finding.ResourceRef{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "prod", Name: "worker"}
	res := &finding.Result{
		Files:     []string{"k8s/deployment.yaml", "k8s/rbac.yaml", "k8s/clean.yaml", "k8s/broken.yaml", "/work/repo/k8s/ingress.yaml", "-"},
		Resources: 8,
		Rules: []finding.Rule{
			{ID: "attest-security/privileged-container", Policy: "attest-security", Title: "Privileged containers",
				Description: "Containers must not run privileged: a privileged container has every capability of the node.",
				Remediation: "Set securityContext.privileged to false.", Severity: finding.SeverityCritical,
				Kinds: []string{"Pod", "Deployment"}, Controls: []string{"SOC2:CC6.1", "HIPAA:164.312(a)(1)"},
				HelpURI: "https://github.com/continuums/attest/blob/main/docs/policies.md#privileged-container"},
			{ID: "attest-deployment/resource-limits", Policy: "attest-deployment", Title: "Resource limits",
				Description: "Every container sets CPU and memory limits.", Remediation: "Add resources.limits.cpu and resources.limits.memory.",
				Severity: finding.SeverityMedium, Kinds: []string{"Deployment"}},
			{ID: "attest-security/run-as-root", Policy: "attest-security", Title: "Containers run as root",
				Description: "Containers must set runAsNonRoot.", Severity: finding.SeverityHigh},
			{ID: "attest-security/rbac-wildcard", Policy: "attest-security", Title: "Wildcard RBAC",
				Description: "Roles must not grant * on resources or verbs.", Severity: finding.SeverityHigh, Controls: []string{"SOC2:CC6.3"}},
			{ID: "attest-security/trusted-registry", Policy: "attest-security", Title: "Trusted registries",
				Description: "Images come from the configured registries.", Severity: finding.SeverityHigh},
			{ID: "attest-security/ingress-tls", Policy: "attest-security", Title: "Ingress TLS", Severity: finding.SeverityMedium},
			{ID: "attest-compliance/soc2-audit-logging", Policy: "attest-compliance", Title: "SOC2 audit logging",
				Description: "Production workloads enable audit logging.", Severity: finding.SeverityLow, Controls: []string{"SOC2:CC7.2"}},
		},
		Findings: []finding.Finding{
			{Policy: "attest-security", Rule: "attest-security/privileged-container", Engine: "opa", Kind: finding.KindViolation,
				Severity: finding.SeverityCritical, Enforcement: finding.EnforcementStrict, Message: `Container "web" is privileged`,
				Resource: web, Location: finding.Location{File: "k8s/deployment.yaml", Line: line(24), Column: 13,
					Field: "spec.template.spec.containers[0].securityContext.privileged"},
				Details: map[string]any{"container": "web", "field": "spec.template.spec.containers[0].securityContext.privileged"}},
			{Policy: "attest-security", Rule: "attest-security/privileged-container", Engine: "opa", Kind: finding.KindViolation,
				Severity: finding.SeverityCritical, Enforcement: finding.EnforcementStrict, Message: `Container "sidecar" is privileged`,
				Resource: web, Location: finding.Location{File: "k8s/deployment.yaml", Line: line(33), Column: 13}},
			{Policy: "attest-deployment", Rule: "attest-deployment/resource-limits", Engine: "opa", Kind: finding.KindViolation,
				Severity: finding.SeverityMedium, Enforcement: finding.EnforcementWarn, Message: `Container "web" has no memory limit`,
				Resource: web, Location: finding.Location{File: "k8s/deployment.yaml", Line: line(20), Column: 9}},
			{Policy: "attest-security", Rule: "attest-security/run-as-root", Engine: "opa", Kind: finding.KindViolation,
				Severity: finding.SeverityHigh, Enforcement: finding.EnforcementStrict, Message: `Container "worker" may run as root`,
				Resource: worker, Location: finding.Location{File: "k8s/deployment.yaml", Document: 1, Line: line(52), Column: 11},
				Exemption: &finding.Exemption{Source: "annotation", Reason: "legacy image, migration tracked in PLAT-123",
					ApprovedBy: "alice@example.com", ExpiresAt: date("2027-03-31")}},
			{Policy: "attest-compliance", Rule: "attest-compliance/soc2-audit-logging", Engine: "opa", Kind: finding.KindViolation,
				Severity: finding.SeverityLow, Enforcement: finding.EnforcementDryrun, Message: "audit logging is not enabled",
				Resource: worker, Location: finding.Location{File: "k8s/deployment.yaml", Document: 1, Line: line(41), Column: 1}},
			{Policy: "attest-security", Rule: "attest-security/rbac-wildcard", Engine: "opa", Kind: finding.KindViolation,
				Severity: finding.SeverityHigh, Enforcement: finding.EnforcementStrict, Message: "ClusterRole grants * on all resources",
				Resource: finding.ResourceRef{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole", Name: "break-glass"},
				Location: finding.Location{File: "k8s/rbac.yaml"},
				Exemption: &finding.Exemption{Source: "store", ID: "EMERG-7", Reason: "incident INC-42: restore service",
					ApprovedBy: "oncall@example.com", ExpiresAt: date("2026-01-02"), Emergency: true}},
			{Policy: "main", Rule: "main/warn", Engine: "opa", Kind: finding.KindWarning, Severity: finding.SeverityInfo,
				Enforcement: finding.EnforcementStrict, Message: "Role grants 100% of verbs: get, list\nconsider narrowing #scope",
				Resource: finding.ResourceRef{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role", Namespace: "dev", Name: "reader"},
				Location: finding.Location{File: "k8s/rbac.yaml", Document: 1, Line: line(14), Column: 3}},
			{Policy: "attest-security", Rule: "attest-security/ingress-tls", Engine: "gatekeeper", Constraint: "ingress-must-use-tls",
				Kind: finding.KindViolation, Severity: finding.SeverityMedium, Enforcement: finding.EnforcementStrict,
				Message: "Ingress has no tls section", Resource: finding.ResourceRef{APIVersion: "networking.k8s.io/v1", Kind: "Ingress", Namespace: "prod", Name: "web"},
				Location: finding.Location{File: "/work/repo/k8s/ingress.yaml", Line: line(6), Column: 3}},
			{Policy: "attest-security", Rule: "attest-security/trusted-registry", Engine: "opa", Kind: finding.KindViolation,
				Severity: finding.SeverityHigh, Enforcement: finding.EnforcementStrict,
				Message:  "image docker.io/library/busybox:latest is not from a trusted registry",
				Resource: finding.ResourceRef{APIVersion: "v1", Kind: "Pod", Namespace: "default", Name: "debug"},
				Location: finding.Location{File: "-", Document: 2, Line: line(9), Column: 14}},
			{Policy: "custom-slow", Rule: "custom-slow/deny", Engine: "opa", Kind: finding.KindError, Severity: finding.SeverityHigh,
				Enforcement: finding.EnforcementStrict, Message: "evaluation timed out after 5s",
				Resource: finding.ResourceRef{APIVersion: "v1", Kind: "Pod", Namespace: "default", Name: "debug"},
				Location: finding.Location{File: "-", Document: 2, Line: line(1), Column: 1}},
		},
		Notes: []finding.Note{
			{Location: finding.Location{File: "k8s/clean.yaml", Document: 1, Line: line(12)}, Message: "document has no apiVersion/kind: not a Kubernetes object, skipped"},
		},
		Errors: []finding.Error{
			{Location: finding.Location{File: "k8s/broken.yaml", Line: line(3), Column: 7}, Message: "yaml: mapping values are not allowed in this context"},
		},
		Expired: []finding.Exemption{
			{Source: "file:.attest/exemptions.yaml", ID: "EXC-2024-001", Reason: "waiting for vendor fix",
				ApprovedBy: "security-team", ExpiresAt: date("2025-01-31")},
		},
		Summary: finding.Summary{Violations: 4, Warnings: 2, Dryrun: 1, Exempted: 2, Errors: 2, Passed: false},
	}
	res.Sort()
	return res
}

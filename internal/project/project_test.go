package project

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/continuums/attest/internal/engine"
	"github.com/continuums/attest/internal/exemption"
	"github.com/continuums/attest/internal/finding"
)

func write(t *testing.T, dir, name, body string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestOpenAppliesConfiguration(t *testing.T) {
	dir := t.TempDir()
	global := filepath.Join(t.TempDir(), "policies.yaml")
	write(t, filepath.Dir(global), "policies.yaml", `policy:
  custom_policies:
    - name: "custom-security"
      level: "Namespace"
      severity: "High"
      rego_code: |
        package custom.security
        violation[{"violated": true, "message": msg}] {
          msg := sprintf("custom saw %v", [input.resource.kind])
        }
`)
	write(t, dir, ".attest/policies.yaml", `policies:
  - name: "image-security"
    enabled: true
    enforcement: "strict"
    parameters:
      trusted_registries:
        - "gcr.io/"
        - "registry.company.com/"
      require_attestation: false
  - name: "resource-limits"
    enabled: true
    enforcement: "warn"
    parameters:
      max_cpu: "2000m"
      max_memory: "4Gi"
      require_limits: true
  - name: "attest-compliance"
    enabled: false
  - name: "no-such-policy"
`)
	p, err := Open(context.Background(), Options{Dir: dir, GlobalFile: global})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Errors) > 0 {
		t.Fatalf("errors: %+v", p.Errors)
	}
	byName := map[string]bool{}
	for _, pol := range p.Engine.Policies() {
		byName[pol.Name] = true
		if pol.Name == "resource-limits" && pol.Enforcement != finding.EnforcementWarn {
			t.Errorf("resource-limits enforcement = %s", pol.Enforcement)
		}
	}
	if byName["attest-compliance"] || !byName["custom-security"] || !byName["image-security"] {
		t.Errorf("enabled policies = %v", byName)
	}
	var unknownNote bool
	for _, n := range p.Notes {
		if strings.Contains(n.Message, `"no-such-policy"`) {
			unknownNote = true
		}
	}
	if !unknownNote {
		t.Errorf("no note for an unknown configured policy: %+v", p.Notes)
	}

	f := p.Loader.Parse("x.yaml", []byte(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    spec:
      containers:
        - name: app
          image: docker.io/library/nginx:1.27
          resources:
            limits: {cpu: "4", memory: 1Gi}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: reader}
rules: []
`))
	var untrusted, cpu, customDeploy, customCluster bool
	for _, r := range f.Resources {
		for _, fd := range p.Engine.Evaluate(context.Background(), r, engine.Call{}) {
			switch {
			case fd.Rule == "image-security/trusted-registry":
				untrusted = true
			case fd.Policy == "resource-limits" && strings.Contains(fd.Message, "cpu"):
				cpu = fd.Enforcement == finding.EnforcementWarn
			case fd.Policy == "custom-security" && r.Kind == "Deployment":
				customDeploy = fd.Severity == finding.SeverityHigh
			case fd.Policy == "custom-security" && r.Kind == "ClusterRole":
				customCluster = true
			}
		}
	}
	if !untrusted || !cpu || !customDeploy || customCluster {
		t.Errorf("untrusted=%v cpu-over-max(warn)=%v custom on Deployment(high)=%v custom on ClusterRole=%v",
			untrusted, cpu, customDeploy, customCluster)
	}
}

func TestOpenWithBadConfigGoesOn(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, ".attest/policies.yaml", "policies:\n  - name: x\n    enabled: perhaps\n")
	p, err := Open(context.Background(), Options{Dir: dir, GlobalFile: filepath.Join(dir, "none.yaml")})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Errors) == 0 || p.Errors[0].Location.Line != 3 {
		t.Fatalf("errors = %+v", p.Errors)
	}
	if len(p.Engine.Policies()) == 0 {
		t.Fatal("the built-in library should still run with a bad config")
	}
}

// Exemptions is the file's and the store's, as gatekeeper generate needs
// them: the store is read once, when the project is opened.
func TestExemptionsIncludeTheStore(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, ".attest/exemptions.yaml", "exemptions:\n  - policy_name: attest-security\n    resource_kind: Pod\n    resource_name: legacy\n    resource_namespace: monitoring\n    reason: old\n    approved_by: alice@company.com\n    expires_at: \"2099-01-01\"\n")
	fromStore := exemption.Exemption{ID: "exemption-7", Source: "store", Policy: "attest-security", Kind: "Pod", Namespace: "sandbox", Name: "*"}
	calls := 0
	p, err := Open(context.Background(), Options{Dir: dir, GlobalFile: filepath.Join(dir, "none.yaml"),
		StoreExemptions: exemption.ProviderFunc(func(context.Context) ([]exemption.Exemption, error) {
			calls++
			return []exemption.Exemption{fromStore}, nil
		})})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Errors) > 0 {
		t.Fatalf("errors: %v", p.Errors)
	}
	got := p.Exemptions()
	if len(got) != 2 || got[0].Source == "store" || got[1].ID != "exemption-7" {
		t.Fatalf("Exemptions() = %+v", got)
	}
	p.Exemptions()
	if calls != 1 {
		t.Fatalf("the store was read %d times", calls)
	}
}

// An exemption naming a policy the project does not have is a note; a copy
// rebuilt with the store's exemptions replaces that note instead of adding
// another, and leaves the original's notes alone.
func TestUnknownPolicyNotes(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, ".attest/exemptions.yaml", "exemptions:\n  - policy_name: atest-security\n    resource_kind: Pod\n    resource_name: legacy\n    reason: old\n    approved_by: alice@company.com\n    expires_at: \"2099-01-01\"\n")
	p, err := Open(context.Background(), Options{Dir: dir, GlobalFile: filepath.Join(dir, "none.yaml")})
	if err != nil {
		t.Fatal(err)
	}
	unknown := func(notes []finding.Note) (n int) {
		for _, x := range notes {
			if strings.Contains(x.Message, `names policy "atest-security"`) {
				n++
			}
		}
		return n
	}
	if unknown(p.Notes) != 1 {
		t.Fatalf("notes %v: want one for atest-security", p.Notes)
	}
	before := len(p.Notes)
	store := []exemption.Exemption{{ID: "exemption-9", Source: "store", Policy: "no-such-policy", Kind: "Pod", Name: "x"}}
	np := p
	for range 3 {
		if np, err = np.WithStoreExemptions(context.Background(), store); err != nil {
			t.Fatal(err)
		}
	}
	if unknown(np.Notes) != 1 || len(np.Notes) != before+1 {
		t.Errorf("after three store syncs: %v", np.Notes)
	}
	if len(p.Notes) != before || unknown(p.Notes) != 1 {
		t.Errorf("the original's notes changed: %v", p.Notes)
	}
}

// TestRequiredTeamsWithoutTeamsIsNoted: the spec's governance example
// names required teams and declares none, which leaves store requests
// unapprovable; the project says so.
func TestRequiredTeamsWithoutTeamsIsNoted(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, ".attest/governance.yaml", "governance:\n  exemption_approval:\n    required_approvers: 2\n    required_teams: [security-team]\n")
	p, err := Open(context.Background(), Options{Dir: dir, GlobalFile: filepath.Join(dir, "none.yaml"), NoBuiltin: true})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, n := range p.Notes {
		found = found || strings.Contains(n.Message, "required_teams names security-team but governance.teams declares no team")
	}
	if !found || len(p.Errors) > 0 {
		t.Fatalf("notes %+v, errors %+v", p.Notes, p.Errors)
	}
}

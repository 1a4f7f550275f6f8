package server

import (
	"testing"

	"github.com/continuums/attest/internal/metrics"
)

// A ConstraintTemplate and its Constraint that a labelled pod satisfies.
const requiredLabelsTemplate = `apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8srequiredowner
spec:
  crd:
    spec:
      names:
        kind: K8sRequiredOwner
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8srequiredowner
        violation[{"msg": msg}] {
          not input.review.object.metadata.labels.owner
          msg := "an owner label is required"
        }
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sRequiredOwner
metadata:
  name: pods-need-owner
spec:
  match:
    kinds:
      - apiGroups: [""]
        kinds: ["Pod"]
`

const ownedPod = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"owned","namespace":"default","labels":{"owner":"team-a"}},` +
	`"spec":{"containers":[{"name":"c","image":"registry.example.com/app:1.0"}]}}`

// TestDurationEngineLabel: with only Gatekeeper policies loaded, an
// evaluation that finds nothing is still timed as engine="gatekeeper"
// (the label follows the policies that evaluated, not the findings), on
// both /v1/admission and /v1/evaluate.
func TestDurationEngineLabel(t *testing.T) {
	o := newProject(t, map[string]string{"policies/owner.yaml": requiredLabelsTemplate})
	o.NoBuiltin = true
	ts := start(t, o)
	ts.waitReady(t)
	if got := ts.Snapshot().engines; len(got) != 1 || got[0] != "gatekeeper" {
		t.Fatalf("engines of a Gatekeeper-only project = %v, want [gatekeeper]", got)
	}

	code, body := ts.post(t, "/v1/admission", "application/json", review("gk-1", "CREATE", ownedPod, ""))
	if code != 200 {
		t.Fatalf("admission: %d %s", code, body)
	}
	resp := decode(t, body)
	if !resp.Allowed || len(resp.Warnings) != 0 {
		t.Fatalf("the owned pod should pass without findings: %+v", resp)
	}
	fams := ts.scrape(t)
	if n := sample(fams, metrics.Duration, map[string]string{"engine": "gatekeeper"}); n != 1 {
		t.Errorf(`%s{engine="gatekeeper"} count = %v after one admission, want 1`, metrics.Duration, n)
	}
	if n := sample(fams, metrics.Duration, map[string]string{"engine": "opa"}); n != 0 {
		t.Errorf(`%s{engine="opa"} count = %v with no OPA policy loaded, want 0`, metrics.Duration, n)
	}
	if n := sample(fams, metrics.Evaluations, map[string]string{"result": "passed"}); n < 1 {
		t.Errorf("no passed evaluation counted: the constraint did not evaluate")
	}

	code, body = ts.post(t, "/v1/evaluate", "application/json", []byte(ownedPod))
	if code != 200 {
		t.Fatalf("evaluate: %d %s", code, body)
	}
	fams = ts.scrape(t)
	if n := sample(fams, metrics.Duration, map[string]string{"engine": "gatekeeper"}); n != 2 {
		t.Errorf(`%s{engine="gatekeeper"} count = %v after admission and evaluate, want 2`, metrics.Duration, n)
	}
	if n := sample(fams, metrics.Duration, map[string]string{"engine": "opa"}); n != 0 {
		t.Errorf(`%s{engine="opa"} count = %v, want 0`, metrics.Duration, n)
	}
}

// TestEngineKinds: the default project (built-in library) is opa only;
// adding a ConstraintTemplate observes under both.
func TestEngineKinds(t *testing.T) {
	ts := start(t, newProject(t, map[string]string{"policies/owner.yaml": requiredLabelsTemplate}))
	ts.waitReady(t)
	if got := ts.Snapshot().engines; len(got) != 2 || got[0] != "opa" || got[1] != "gatekeeper" {
		t.Fatalf("engines of a mixed project = %v, want [opa gatekeeper]", got)
	}
	code, body := ts.post(t, "/v1/admission", "application/json", review("mix-1", "CREATE", ownedPod, ""))
	if code != 200 {
		t.Fatalf("admission: %d %s", code, body)
	}
	fams := ts.scrape(t)
	for _, e := range []string{"opa", "gatekeeper"} {
		if n := sample(fams, metrics.Duration, map[string]string{"engine": e}); n != 1 {
			t.Errorf(`%s{engine=%q} count = %v, want 1`, metrics.Duration, e, n)
		}
	}
}

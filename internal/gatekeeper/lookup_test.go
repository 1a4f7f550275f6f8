package gatekeeper

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/continuums/attest/internal/engine"
	"github.com/continuums/attest/internal/finding"
	"github.com/continuums/attest/internal/manifest"
	"github.com/continuums/attest/internal/policy"
)

// namespaces is a NamespaceLookup on a map: what the cluster would
// answer, and how often it was asked about each name.
type namespaces struct {
	labels map[string]map[string]string
	errs   map[string]error

	mu    sync.Mutex
	calls map[string]int
}

func (n *namespaces) Labels(ctx context.Context, name string) (map[string]string, bool, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.calls == nil {
		n.calls = map[string]int{}
	}
	n.calls[name]++
	if ctx.Err() != nil {
		return nil, false, ctx.Err()
	}
	if err := n.errs[name]; err != nil {
		return nil, false, err
	}
	l, ok := n.labels[name]
	return l, ok, nil
}

func (n *namespaces) asked(name string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.calls[name]
}

// lookupObjects: one template that reports every object it is given, and
// one constraint on Pods in Namespaces labelled env: prod.
func lookupObjects(t *testing.T) Objects {
	t.Helper()
	objs, errs := Parse("policies.yaml", []byte(`apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8shit
spec:
  crd:
    spec:
      names:
        kind: K8sHit
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8shit
        violation[{"msg": msg}] {
          msg := sprintf("hit %v/%v", [input.review.object.kind, input.review.object.metadata.name])
        }
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sHit
metadata:
  name: prod-pods
spec:
  match:
    kinds: [{apiGroups: [""], kinds: [Pod]}]
    namespaceSelector: {matchLabels: {env: prod}}
`))
	if errs != nil {
		t.Fatal(errs)
	}
	return objs
}

// admit evaluates one object as attest serve does for an admission request
// (operation, old object), with the set's policies.
func admit(t *testing.T, set *Set, doc string, call engine.Call) []finding.Finding {
	t.Helper()
	pols, mods, errs := set.Policies()
	if errs != nil {
		t.Fatal(errs)
	}
	eng, cerrs, err := engine.New(context.Background(), &policy.Set{Policies: pols, Modules: mods})
	if err != nil {
		t.Fatal(err, cerrs)
	}
	f := manifest.NewLoader().Parse("review.yaml", []byte(doc))
	if len(f.Resources) != 1 {
		t.Fatalf("%d resources in %q", len(f.Resources), doc)
	}
	return eng.Evaluate(context.Background(), f.Resources[0], call)
}

func pod(name, namespace string) string {
	return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name + "\n  namespace: " + namespace + "\n"
}

// TestNamespaceLookup: at admission a namespaceSelector reads the labels of
// the request's Namespace from the set's lookup (the cluster), as
// Gatekeeper's webhook does; a Namespace the cluster does not have, or one
// that cannot be read, fails the review with an error, as the webhook
// refuses such a request.
func TestNamespaceLookup(t *testing.T) {
	lookup := &namespaces{
		labels: map[string]map[string]string{
			"shop":    {"env": "prod", "team": "shop"},
			"sandbox": {"env": "dev"},
			"bare":    nil, // exists, no labels
		},
		errs: map[string]error{"down": errors.New(`Get "https://10.0.0.1:443/api/v1/namespaces/down": connection refused`)},
	}
	set, errs := Build(lookupObjects(t), WithEnforcementPoint(PointValidation), WithNamespaceLookup(lookup))
	if errs != nil {
		t.Fatal(errs)
	}
	create := engine.Call{Operation: "CREATE"}

	t.Run("labelled Namespace: violation", func(t *testing.T) {
		got := admit(t, set, pod("web", "shop"), create)
		if len(got) != 1 || got[0].Kind == finding.KindError || got[0].Message != "hit Pod/web" || got[0].Constraint != "prod-pods" {
			t.Fatalf("findings: %+v", got)
		}
		if n := lookup.asked("shop"); n != 1 {
			t.Errorf("shop looked up %d times, want once", n)
		}
	})
	t.Run("other labels or none: no violation", func(t *testing.T) {
		for _, ns := range []string{"sandbox", "bare"} {
			if got := admit(t, set, pod("web", ns), create); len(got) != 0 {
				t.Errorf("%s: findings %+v", ns, got)
			}
		}
	})
	t.Run("no such Namespace: the review fails, as in Gatekeeper's webhook", func(t *testing.T) {
		got := admit(t, set, pod("web", "ghost"), create)
		if len(got) != 1 || got[0].Kind != finding.KindError || got[0].Constraint != "prod-pods" || got[0].Policy != "k8shit" {
			t.Fatalf("findings: %+v", got)
		}
		want := `policy evaluation failed: constraint prod-pods: no Namespace "ghost" in the cluster, whose labels the namespaceSelector needs`
		if got[0].Message != want {
			t.Errorf("message %q, want %q", got[0].Message, want)
		}
	})
	t.Run("lookup error: the review fails with it", func(t *testing.T) {
		got := admit(t, set, pod("web", "down"), create)
		if len(got) != 1 || got[0].Kind != finding.KindError || got[0].Constraint != "prod-pods" {
			t.Fatalf("findings: %+v", got)
		}
		want := `policy evaluation failed: constraint prod-pods: cannot read the labels of Namespace "down" for the namespaceSelector: Get "https://10.0.0.1:443/api/v1/namespaces/down": connection refused`
		if got[0].Message != want {
			t.Errorf("message %q, want %q", got[0].Message, want)
		}
	})
	t.Run("looked up only when the selector is reached", func(t *testing.T) {
		// kinds decides first: a ConfigMap in an unreadable Namespace is
		// not the constraint's, and nobody asks the cluster.
		cm := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: down\n"
		before := lookup.asked("down")
		if got := admit(t, set, cm, create); len(got) != 0 {
			t.Errorf("findings: %+v", got)
		}
		if lookup.asked("down") != before {
			t.Error("the Namespace was looked up for an object of another kind")
		}
	})
	t.Run("UPDATE: object and old object share one lookup", func(t *testing.T) {
		before := lookup.asked("sandbox")
		old := ast.MustParseTerm(`{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "sandbox"}}`).Value
		if got := admit(t, set, pod("web", "sandbox"), engine.Call{Operation: "UPDATE", OldObject: old}); len(got) != 0 {
			t.Errorf("findings: %+v", got)
		}
		if n := lookup.asked("sandbox") - before; n != 1 {
			t.Errorf("sandbox looked up %d times for one review, want once", n)
		}
	})
	t.Run("a Namespace is matched by its own labels, not looked up", func(t *testing.T) {
		objs := lookupObjects(t)
		objs.Constraints[0].Match.Kinds = nil // every kind
		set, errs := Build(objs, WithEnforcementPoint(PointValidation), WithNamespaceLookup(lookup))
		if errs != nil {
			t.Fatal(errs)
		}
		// A server-side apply of a Namespace names the Namespace itself
		// as the request's namespace (attest serve's resource then has
		// metadata.namespace); it is new, so the cluster has none.
		ns := "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: fresh\n  namespace: fresh\n  labels: {env: prod}\n"
		got := admit(t, set, ns, create)
		if len(got) != 1 || got[0].Message != "hit Namespace/fresh" {
			t.Fatalf("findings: %+v", got)
		}
		if lookup.asked("fresh") != 0 {
			t.Error("a Namespace's own review looked it up")
		}
	})
}

// TestNamespaceLookupOrder: the observed Namespaces come first; the lookup
// is asked only about the others.
func TestNamespaceLookupOrder(t *testing.T) {
	lookup := &namespaces{labels: map[string]map[string]string{"shop": {"env": "dev"}, "other": {"env": "prod"}}}
	cluster := NewCluster()
	cluster.Observe(manifest.NewLoader().Parse("ns.yaml", []byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels: {env: prod}\n")).Resources[0])
	set, errs := Build(lookupObjects(t), WithEnforcementPoint(PointValidation), WithCluster(cluster), WithNamespaceLookup(lookup))
	if errs != nil {
		t.Fatal(errs)
	}
	for _, ns := range []string{"shop", "other"} {
		if got := admit(t, set, pod("web", ns), engine.Call{Operation: "CREATE"}); len(got) != 1 || got[0].Message != "hit Pod/web" {
			t.Errorf("%s: findings %+v", ns, got)
		}
	}
	if lookup.asked("shop") != 0 || lookup.asked("other") != 1 {
		t.Errorf("lookups: %v; want other once and shop (observed) never", lookup.calls)
	}
}

// TestNamespaceLookupNotForGator: gator test and gator verify take their
// Namespaces from the inputs only; a lookup given to their builds changes
// nothing (the autoreject stays).
func TestNamespaceLookupNotForGator(t *testing.T) {
	lookup := &namespaces{labels: map[string]map[string]string{"shop": {"env": "prod"}}}
	for _, mode := range []matchMode{modeGatorTest, modeVerify} {
		set, errs := Build(lookupObjects(t), withMode(mode), WithNamespaceLookup(lookup))
		if errs != nil {
			t.Fatal(errs)
		}
		got := admit(t, set, pod("web", "shop"), engine.Call{})
		if len(got) != 1 || got[0].Rule != "k8shit/autoreject" || !strings.HasPrefix(got[0].Message, "unable to match constraints: ") {
			t.Errorf("mode %d: findings %+v", mode, got)
		}
	}
	if n := lookup.asked("shop"); n != 0 {
		t.Errorf("looked up %d times outside admission", n)
	}
}

package server

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// clusterNamespaces is both things attest serve reads the cluster with
// (internal/kube in production): the Gatekeeper match's NamespaceLookup
// and the server's ClusterCache, on a map, synced when the test says so.
type clusterNamespaces struct {
	labels  map[string]map[string]string
	down    error // every lookup fails with it when set
	synced  atomic.Bool
	started atomic.Bool

	mu     sync.Mutex
	lookup int
}

func (c *clusterNamespaces) Start(ctx context.Context) { c.started.Store(true) }
func (c *clusterNamespaces) HasSynced() bool           { return c.synced.Load() }

func (c *clusterNamespaces) Labels(ctx context.Context, name string) (map[string]string, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lookup++
	if c.down != nil {
		return nil, false, c.down
	}
	l, ok := c.labels[name]
	return l, ok, nil
}

func (c *clusterNamespaces) lookups() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lookup
}

func (c *clusterNamespaces) setDown(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.down = err
}

// A template that refuses every Pod it is given, and a constraint that
// gives it the Pods in Namespaces labelled gatekeeper: enforce.
const (
	denyPodsTemplate = `apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8sdenypods
spec:
  crd:
    spec:
      names:
        kind: K8sDenyPods
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8sdenypods
        violation[{"msg": msg}] {
          msg := sprintf("no pods in %v", [input.review.namespace])
        }
`
	denyPodsConstraint = `apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sDenyPods
metadata:
  name: enforced-namespaces
spec:
  match:
    kinds: [{apiGroups: [""], kinds: [Pod]}]
    namespaceSelector: {matchLabels: {gatekeeper: enforce}}
`
)

func podIn(namespace string) string {
	return `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"` + namespace + `"},"spec":{"containers":[{"name":"a","image":"registry.company.com/a:1.0.0"}]}}`
}

// TestClusterNamespaces: with the cluster's Namespaces, a Gatekeeper
// namespaceSelector matches at admission; /readyz waits for them; a lookup
// that fails refuses the request with the reason; and a reload keeps them.
func TestClusterNamespaces(t *testing.T) {
	cluster := &clusterNamespaces{labels: map[string]map[string]string{
		"enforced": {"gatekeeper": "enforce"},
		"free":     {"team": "free"},
	}}
	o := newProject(t, map[string]string{
		"policies/template.yaml":   denyPodsTemplate,
		"policies/constraint.yaml": denyPodsConstraint,
	})
	o.NoBuiltin = true // the constraint alone decides
	o.NamespaceLookup = cluster
	ts := start(t, o, WithClusterCache(cluster))

	// The policies are loaded (start waits for the first load); the
	// Namespaces are not read yet.
	resp, err := ts.client.Get(ts.url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || !strings.Contains(string(body), "Namespaces not read yet") {
		t.Fatalf("readyz before the Namespaces are read: %d %q, want 503", resp.StatusCode, body)
	}
	if !cluster.started.Load() {
		t.Error("Run did not start the cluster cache")
	}
	cluster.synced.Store(true)
	ts.waitReady(t)

	admit := func(t *testing.T, uid, namespace string) (bool, string) {
		t.Helper()
		code, body := ts.post(t, "/v1/admission", "application/json", review(uid, "CREATE", podIn(namespace), ""))
		if code != 200 {
			t.Fatalf("HTTP %d %s", code, body)
		}
		r := decode(t, body)
		msg := ""
		if r.Result != nil {
			msg = r.Result.Message
		}
		return r.Allowed, msg
	}
	const denied = "[k8sdenypods] no pods in enforced"
	if ok, msg := admit(t, "u1", "enforced"); ok || !strings.Contains(msg, denied) {
		t.Errorf("pod in the labelled Namespace: allowed %v, %q; want refused with %q", ok, msg, denied)
	}
	if ok, msg := admit(t, "u2", "free"); !ok || strings.Contains(msg, "k8sdenypods") {
		t.Errorf("pod in the unlabelled Namespace: allowed %v, %q", ok, msg)
	}

	// The API server does not answer: the request is refused, saying so.
	cluster.setDown(errors.New("read Namespace enforced from the API server: connection refused"))
	ok, msg := admit(t, "u3", "enforced")
	want := `[k8sdenypods] policy evaluation failed: constraint enforced-namespaces: cannot read the labels of Namespace "enforced" for the namespaceSelector: read Namespace enforced from the API server: connection refused`
	if ok || !strings.Contains(msg, want) {
		t.Errorf("lookup failing: allowed %v, %q; want refused with %q", ok, msg, want)
	}
	if v := sample(ts.scrape(t), "attest_admission_reviews_total", map[string]string{"decision": "error"}); v != 1 {
		t.Errorf("admission errors %v, want 1", v)
	}
	cluster.setDown(nil)

	// A reload builds new constraints with the same lookup.
	writeFiles(t, o.Dir, map[string]string{"policies/constraint.yaml": strings.Replace(denyPodsConstraint, "enforced-namespaces", "renamed", 1)})
	if err := ts.Reload(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	before := cluster.lookups()
	if ok, msg := admit(t, "u4", "enforced"); ok || !strings.Contains(msg, denied) {
		t.Errorf("after a reload: allowed %v, %q; want refused with %q", ok, msg, denied)
	}
	if cluster.lookups() == before {
		t.Error("after a reload the Namespace was not looked up")
	}
}

// Policies that never read a Namespace's labels do not wait for the
// cluster's Namespaces: a replica that cannot list them (no RBAC) still
// serves them, and a constraint without a namespaceSelector still decides.
func TestReadyWithoutNamespaceSelector(t *testing.T) {
	cluster := &clusterNamespaces{down: errors.New("namespaces is forbidden")}
	o := newProject(t, map[string]string{
		"policies/template.yaml":   denyPodsTemplate,
		"policies/constraint.yaml": strings.Replace(denyPodsConstraint, "    namespaceSelector: {matchLabels: {gatekeeper: enforce}}\n", "", 1),
	})
	o.NoBuiltin = true
	o.NamespaceLookup = cluster
	ts := start(t, o, WithClusterCache(cluster))
	ts.waitReady(t) // the cache never syncs
	code, body := ts.post(t, "/v1/admission", "application/json", review("u1", "CREATE", podIn("shop"), ""))
	if r := decode(t, body); code != 200 || r.Allowed || !strings.Contains(r.Result.Message, "[k8sdenypods] no pods in shop") {
		t.Fatalf("HTTP %d %s: want the constraint's denial", code, body)
	}
	if n := cluster.lookups(); n != 0 {
		t.Errorf("%d Namespace lookups for a constraint without a namespaceSelector, want 0", n)
	}
}

package kube

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/metadata/fake"
	clienttesting "k8s.io/client-go/testing"
)

// These tests run on client-go's in-memory metadata client (an object
// tracker behind the same interface). test/kube runs the package against
// a real kube-apiserver, through attest serve.

func namespace(name string, labels map[string]string) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Labels:      labels,
			Annotations: map[string]string{"kubectl.kubernetes.io/last-applied-configuration": strings.Repeat("x", 1024)},
		},
	}
}

// client holds shop (env: prod) and bare (no labels), counts the GETs by
// name, and fails the GET of down.
type client struct {
	*fake.FakeMetadataClient
	mu   sync.Mutex
	gets map[string]int
}

func newClient(t *testing.T) *client {
	t.Helper()
	scheme := fake.NewTestScheme()
	if err := metav1.AddMetaToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c := &client{
		FakeMetadataClient: fake.NewSimpleMetadataClient(scheme, namespace("shop", map[string]string{"env": "prod"}), namespace("bare", nil)),
		gets:               map[string]int{},
	}
	c.PrependReactor("get", "namespaces", func(a clienttesting.Action) (bool, runtime.Object, error) {
		name := a.(clienttesting.GetAction).GetName()
		c.mu.Lock()
		c.gets[name]++
		c.mu.Unlock()
		if name == "down" {
			return true, nil, errors.New("connection refused")
		}
		return false, nil, nil
	})
	return c
}

func (c *client) got(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gets[name]
}

// TestLabelsFromTheAPIServer: before the cache has anything, every name is
// read from the API server: found, not found (false, no error) or an
// error that names the Namespace.
func TestLabelsFromTheAPIServer(t *testing.T) {
	c := newClient(t)
	n := newNamespaces(c)
	ctx := context.Background()
	if n.HasSynced() {
		t.Fatal("synced before it started")
	}
	l, ok, err := n.Labels(ctx, "shop")
	if err != nil || !ok || l["env"] != "prod" || len(l) != 1 {
		t.Errorf("shop: %v %v %v", l, ok, err)
	}
	if l, ok, err := n.Labels(ctx, "bare"); err != nil || !ok || len(l) != 0 {
		t.Errorf("bare: %v %v %v", l, ok, err)
	}
	if l, ok, err := n.Labels(ctx, "ghost"); err != nil || ok || l != nil {
		t.Errorf("ghost: %v %v %v; want not found, no error", l, ok, err)
	}
	_, ok, err = n.Labels(ctx, "down")
	if ok || err == nil || err.Error() != "read Namespace down from the API server: connection refused" {
		t.Errorf("down: %v %v", ok, err)
	}
	if c.got("shop") != 1 || c.got("ghost") != 1 {
		t.Errorf("GETs: %v", c.gets)
	}
}

// TestLabelsFromTheCache: once started and synced, the cache answers
// without a GET, keeps no annotations, and follows label changes; a name
// it does not have is still read from the API server.
func TestLabelsFromTheCache(t *testing.T) {
	c := newClient(t)
	n := newNamespaces(c)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n.Start(ctx)
	waitFor(t, "the first list", n.HasSynced)

	if l, ok, err := n.Labels(ctx, "shop"); err != nil || !ok || l["env"] != "prod" {
		t.Errorf("shop: %v %v %v", l, ok, err)
	}
	if c.got("shop") != 0 {
		t.Errorf("shop was read from the API server (%d GETs) with the cache synced", c.got("shop"))
	}
	obj, ok, err := n.informer.GetIndexer().GetByKey("shop")
	if err != nil || !ok {
		t.Fatalf("shop not in the cache: %v", err)
	}
	if m := obj.(*metav1.PartialObjectMetadata); m.Annotations != nil {
		t.Errorf("the cache keeps annotations: %v", m.Annotations)
	}

	// A label change reaches the cache through the watch.
	changed := namespace("shop", map[string]string{"env": "staging"})
	if err := c.Tracker().Update(namespacesResource, changed, ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the label change", func() bool {
		l, _, _ := n.Labels(ctx, "shop")
		return l["env"] == "staging"
	})
	if c.got("shop") != 0 {
		t.Errorf("shop was read from the API server (%d GETs)", c.got("shop"))
	}
	if _, ok, err := n.Labels(ctx, "ghost"); ok || err != nil || c.got("ghost") != 1 {
		t.Errorf("ghost: %v %v, %d GETs; want one GET, not found", ok, err, c.got("ghost"))
	}
}

// waitFor polls cond until it holds, failing the test after 10 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after 10s", what)
		}
		<-tick.C
	}
}

func TestConfig(t *testing.T) {
	t.Run("kubeconfig", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "kubeconfig")
		kc := `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:6443", certificate-authority: ca.crt}
users:
- name: u
  user: {token: secret}
contexts:
- name: x
  context: {cluster: c, user: u}
current-context: x
`
		if err := os.WriteFile(path, []byte(kc), 0o600); err != nil {
			t.Fatal(err)
		}
		// Read only when a client is made; it must exist.
		if err := os.WriteFile(filepath.Join(dir, "ca.crt"), []byte("-"), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := Config(path)
		if err != nil || cfg.Host != "https://127.0.0.1:6443" || cfg.BearerToken != "secret" {
			t.Fatalf("Config = %+v, %v", cfg, err)
		}
		// Relative to the kubeconfig, not to the working directory.
		if want := filepath.Join(dir, "ca.crt"); cfg.TLSClientConfig.CAFile != want {
			t.Errorf("CA file %q, want %q", cfg.TLSClientConfig.CAFile, want)
		}
	})
	t.Run("empty kubeconfig", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "kubeconfig")
		if err := os.WriteFile(path, []byte("apiVersion: v1\nkind: Config\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		// Inside a pod it must not fall back to the pod's account.
		t.Setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
		t.Setenv("KUBERNETES_SERVICE_PORT", "443")
		if _, err := Config(path); err == nil || err.Error() != "kubeconfig "+path+": no current context with a cluster" {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("missing kubeconfig", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "nope")
		if _, err := Config(path); err == nil || !strings.Contains(err.Error(), "kubeconfig "+path) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("not a kubeconfig", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "kubeconfig")
		if err := os.WriteFile(path, []byte("clusters: 7\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Config(path); err == nil || !strings.Contains(err.Error(), "kubeconfig "+path) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("not in a cluster", func(t *testing.T) {
		t.Setenv("KUBERNETES_SERVICE_HOST", "")
		t.Setenv("KUBERNETES_SERVICE_PORT", "")
		if _, err := Config(""); !errors.Is(err, ErrNotInCluster) {
			t.Fatalf("err = %v, want ErrNotInCluster", err)
		}
	})
	t.Run("in a pod without a token", func(t *testing.T) {
		if _, err := os.Stat("/var/run/secrets/kubernetes.io/serviceaccount/token"); err == nil {
			t.Skip("this machine has a service account token")
		}
		t.Setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
		t.Setenv("KUBERNETES_SERVICE_PORT", "443")
		_, err := Config("")
		if err == nil || errors.Is(err, ErrNotInCluster) || !strings.Contains(err.Error(), "in-cluster configuration") {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestDirectReadsRemembered: the constraints of one review all ask for the
// same Namespace; on a cache miss that is one GET, not one per constraint.
// Answers (found or not) are kept for readTTL, failed reads not at all.
func TestDirectReadsRemembered(t *testing.T) {
	c := newClient(t)
	n := newNamespaces(c)
	clock := time.Unix(1000, 0)
	n.now = func() time.Time { return clock }
	ctx := context.Background()
	for range 3 {
		if l, ok, err := n.Labels(ctx, "shop"); err != nil || !ok || l["env"] != "prod" {
			t.Fatalf("shop: %v %v %v", l, ok, err)
		}
		if _, ok, err := n.Labels(ctx, "ghost"); err != nil || ok {
			t.Fatalf("ghost: %v %v", ok, err)
		}
		if _, _, err := n.Labels(ctx, "down"); err == nil {
			t.Fatal("down: no error")
		}
	}
	if c.got("shop") != 1 || c.got("ghost") != 1 || c.got("down") != 3 {
		t.Errorf("GETs within %s: %v; want shop 1, ghost 1, down 3 (failures are not kept)", readTTL, c.gets)
	}
	clock = clock.Add(readTTL)
	if _, ok, err := n.Labels(ctx, "shop"); err != nil || !ok {
		t.Fatalf("shop after %s: %v %v", readTTL, ok, err)
	}
	if c.got("shop") != 2 {
		t.Errorf("shop GETs after %s: %d, want 2", readTTL, c.got("shop"))
	}
	if len(n.read) != 1 {
		t.Errorf("remembered after expiry: %v, want only shop", n.read)
	}
}

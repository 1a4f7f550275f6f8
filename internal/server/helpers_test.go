package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/continuums/attest/internal/project"
)

// writeFiles lays out a project: name -> content.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// projectConfig: resource-limits only warns, image-security is a dry run,
// as a rollout would have them (spec section 15).
const projectConfig = `policies:
  - name: resource-limits
    enforcement: warn
  - name: image-security
    enforcement: dryrun
`

// slowPolicy runs far longer than any evaluation timeout a test sets.
const slowPolicy = `package slow

import rego.v1

# METADATA
# title: slow
deny contains msg if {
	some i in numbers.range(1, 100000000)
	i < 0
	msg := "never"
}
`

func newProject(t *testing.T, extra map[string]string) project.Options {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{".attest/policies.yaml": projectConfig}
	for k, v := range extra {
		files[k] = v
	}
	writeFiles(t, dir, files)
	return project.Options{Dir: dir, GlobalFile: filepath.Join(dir, "no-global.yaml"), Env: func(string) string { return "" }}
}

type testServer struct {
	*Server
	url    string
	client *http.Client
	stop   func()
	src    *Source
}

// start runs the real server on a free loopback port until the test ends.
func start(t *testing.T, o project.Options, opts ...Option) *testServer {
	return startWith(t, o, nil, opts...)
}

func startWith(t *testing.T, o project.Options, sopts []SourceOption, opts ...Option) *testServer {
	t.Helper()
	src, err := NewSource(o, sopts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	opts = append([]Option{WithLoader(src.Load), WithPollInterval(0)}, opts...)
	s, err := New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	addr, done, stop := runServer(t, s)
	ts := &testServer{Server: s, url: "http://" + addr, client: &http.Client{Timeout: 30 * time.Second}, src: src, stop: stop}
	// Tests start from a server whose first load has been tried, as it
	// was when Run loaded before serving (TestServesWhileFirstLoadRuns
	// covers the time before).
	select {
	case <-s.firstLoad:
	case err := <-done:
		done <- err
	}
	return ts
}

// runServer runs s on a free loopback port until stop is called or the
// test ends. done gives Run's result (a caller that takes it must put it
// back); stop ends the server once and reports its error.
func runServer(t testing.TB, s *Server) (addr string, done chan error, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done = make(chan error, 1)
	go func() { done <- s.Run(ctx, ln) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("server: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return ln.Addr().String(), done, stop
}

// waitReady polls /readyz until it answers 200 or the deadline passes.
func (ts *testServer) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := ts.client.Get(ts.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not ready: %v", err)
		}
		runtimeGosched()
	}
}

func (ts *testServer) post(t *testing.T, path, contentType string, body []byte) (int, []byte) {
	t.Helper()
	resp, err := ts.client.Post(ts.url+path, contentType, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func (ts *testServer) scrape(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := ts.client.Get(ts.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

func sample(fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	f := fams[name]
	if f == nil {
		return 0
	}
	total := 0.0
next:
	for _, m := range f.Metric {
		got := map[string]string{}
		for _, l := range m.Label {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range labels {
			if got[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			total += m.Counter.GetValue()
		case m.Gauge != nil:
			total += m.Gauge.GetValue()
		case m.Histogram != nil:
			total += float64(m.Histogram.GetSampleCount())
		}
	}
	return total
}

// review builds an AdmissionReview as kube-apiserver sends it.
func review(uid, op string, object, oldObject string) []byte {
	if object == "" {
		object = "null"
	}
	if oldObject == "" {
		oldObject = "null"
	}
	var obj struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
	}
	src := object
	if src == "null" {
		src = oldObject
	}
	_ = json.Unmarshal([]byte(src), &obj)
	group, version, resource := "", "v1", strings.ToLower(obj.Kind)+"s"
	if obj.Kind == "Deployment" {
		group = "apps"
	}
	opts := `{"kind":"CreateOptions","apiVersion":"meta.k8s.io/v1","fieldManager":"kubectl-client-side-apply","fieldValidation":"Strict"}`
	switch op {
	case "UPDATE":
		opts = `{"kind":"UpdateOptions","apiVersion":"meta.k8s.io/v1","fieldManager":"kubectl-client-side-apply"}`
	case "DELETE":
		opts = `{"kind":"DeleteOptions","apiVersion":"meta.k8s.io/v1","propagationPolicy":"Background"}`
	}
	return fmt.Appendf(nil, `{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"uid":%q,`+
		`"kind":{"group":%q,"version":%q,"kind":%q},"resource":{"group":%q,"version":%q,"resource":%q},`+
		`"requestKind":{"group":%q,"version":%q,"kind":%q},"requestResource":{"group":%q,"version":%q,"resource":%q},`+
		`"name":%q,"namespace":%q,"operation":%q,`+
		`"userInfo":{"username":"kubernetes-admin","groups":["kubeadm:cluster-admins","system:authenticated"],"extra":{"authentication.kubernetes.io/credential-id":["X509SHA256=abc"]}},`+
		`"object":%s,"oldObject":%s,"dryRun":false,"options":%s}}`,
		uid, group, version, obj.Kind, group, version, resource, group, version, obj.Kind, group, version, resource,
		obj.Metadata.Name, obj.Metadata.Namespace, op, object, oldObject, opts)
}

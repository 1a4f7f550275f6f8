package manifest

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	sigsyaml "sigs.k8s.io/yaml"
)

// corpus is a deterministic 100-document file of the kinds a repository
// holds, in the shapes helm and kustomize print.
func corpus() []byte {
	var b strings.Builder
	for i := range 100 {
		if i > 0 {
			b.WriteString("---\n")
		}
		switch i % 4 {
		case 0, 1:
			fmt.Fprintf(&b, `apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-%[1]d
  namespace: team-%[2]d
  labels:
    app.kubernetes.io/name: app-%[1]d
    app.kubernetes.io/part-of: shop
  annotations:
    policy.attest.continuu.ms/exempt: "false"
spec:
  replicas: %[2]d
  selector:
    matchLabels:
      app.kubernetes.io/name: app-%[1]d
  template:
    metadata:
      labels:
        app.kubernetes.io/name: app-%[1]d
    spec:
      serviceAccountName: app-%[1]d
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
      containers:
        - name: app
          image: registry.example.com/shop/app-%[1]d:1.%[2]d.0
          ports:
            - containerPort: 8080
              name: http
          env:
            - name: LOG_LEVEL
              value: info
            - name: FEATURE_X
              value: "yes"
          resources:
            limits:
              cpu: 500m
              memory: 512Mi
            requests:
              cpu: 100m
              memory: 128Mi
          livenessProbe:
            httpGet:
              path: /healthz
              port: 8080
            initialDelaySeconds: 10
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities:
              drop: [ALL]
`, i, i%7)
		case 2:
			fmt.Fprintf(&b, `apiVersion: v1
kind: Service
metadata:
  name: app-%[1]d
  namespace: team-%[2]d
spec:
  selector:
    app.kubernetes.io/name: app-%[1]d
  ports:
    - port: 80
      targetPort: http
      protocol: TCP
`, i, i%7)
		case 3:
			fmt.Fprintf(&b, `apiVersion: v1
kind: ConfigMap
metadata:
  name: config-%[1]d
  namespace: team-%[2]d
data:
  application.yaml: |
    server:
      port: 8080
    feature: on
  retries: "3"
  enabled: "true"
`, i, i%7)
		}
	}
	return []byte(b.String())
}

func TestCorpusLoads(t *testing.T) {
	f := NewLoader().Parse("corpus.yaml", corpus())
	if len(f.Resources) != 100 || len(f.Errors)+len(f.Notes) != 0 {
		t.Fatalf("%d resources, %v", len(f.Resources), summary(f)[len(f.Resources):])
	}
	// And it reads as Kubernetes reads it.
	for i, doc := range bytes.Split(corpus(), []byte("---\n")) {
		want, ok := sigsValue(doc)
		if !ok || f.Resources[i].Value.Compare(want) != 0 {
			t.Fatalf("document %d differs from sigs.k8s.io/yaml", i)
		}
	}
}

// BenchmarkParse is the loader on a 100-document file: YAML nodes straight
// to OPA values, plus the node tree kept for Locate.
func BenchmarkParse(b *testing.B) {
	data := corpus()
	l := NewLoader()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if f := l.Parse("corpus.yaml", data); len(f.Resources) != 100 {
			b.Fatal("bad corpus")
		}
	}
}

// BenchmarkSigsYAMLUnmarshal is the baseline: what kubectl and conftest's
// Kubernetes path do, decoding the same documents into map[string]any.
func BenchmarkSigsYAMLUnmarshal(b *testing.B) {
	data := corpus()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		for _, doc := range bytes.Split(data, []byte("---\n")) {
			var m map[string]any
			if err := sigsyaml.Unmarshal(doc, &m); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkSigsYAMLToValue is the baseline carried to the same result as
// Parse: an OPA value per document.
func BenchmarkSigsYAMLToValue(b *testing.B) {
	data := corpus()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		for _, doc := range bytes.Split(data, []byte("---\n")) {
			var m map[string]any
			if err := sigsyaml.Unmarshal(doc, &m); err != nil {
				b.Fatal(err)
			}
			if _, err := ast.InterfaceToValue(m); err != nil {
				b.Fatal(err)
			}
		}
	}
}

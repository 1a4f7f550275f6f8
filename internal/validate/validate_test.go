package validate

import (
	"fmt"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/continuums/attest/internal/finding"
	"github.com/continuums/attest/internal/manifest"
)

// want is one expected error or note: the field it points at and words of
// its message.
type want struct {
	field    string
	contains string
}

func TestResource(t *testing.T) {
	v := New()
	tests := []struct {
		file  string
		doc   int
		errs  []want
		notes []want
	}{
		{file: "valid.yaml", doc: 0},
		{file: "valid.yaml", doc: 1},
		{file: "valid.yaml", doc: 2}, // RBAC names may hold colons
		{file: "valid.yaml", doc: 3}, // generateName instead of name
		{file: "unknown-field.yaml", doc: 0, errs: []want{
			{"metadata.lables", `unknown field "lables" in metadata (Deployment apps/v1): did you mean "labels"?`},
			{"spec.template.spec.containers[0].imagePullPolcy", `unknown field "imagePullPolcy" in spec.template.spec.containers[0] (Deployment apps/v1): did you mean "imagePullPolicy"?`},
			{"spec.template.spec.containers[1].ports[0].protocoll", `did you mean "protocol"?`},
		}},
		{file: "wrong-type.yaml", doc: 0, errs: []want{
			// Every wrong type is reported, not only the decoder's first,
			// then the unknown fields.
			{"spec.template.spec.containers[1].livenessProbe.httpGet.port", "wrong type: got object, want integer (int32)"},
			{"spec.template.spec.containers[1].resources.limits.cpu", `invalid value "lots": not a Kubernetes quantity`},
			{"spec.replicas", `spec.replicas: wrong type: got string "3", want integer (int32)`},
			{"spec.template.spec.containers[1].ports[0].containerPort", `wrong type: got string "9901", want integer (int32)`},
			{"spec.template.spec.containers[1].unknownThing", `unknown field "unknownThing"`},
		}},
		{file: "configmap-types.yaml", doc: 0, errs: []want{
			{`data["app.kubernetes.io/flag"]`, "wrong type: got bool true, want string"},
			{"data.retries", "wrong type: got number 3, want string"},
		}},
		{file: "removed-version.yaml", doc: 0, errs: []want{
			{"apiVersion", "extensions/v1beta1 Deployment is no longer served since Kubernetes 1.16: use apiVersion apps/v1"},
		}},
		{file: "removed-version.yaml", doc: 1, errs: []want{
			{"apiVersion", "policy/v1beta1 PodSecurityPolicy is no longer served since Kubernetes 1.25: use Pod Security Admission"},
		}},
		{file: "removed-version.yaml", doc: 2, errs: []want{
			{"apiVersion", "Deployment is not a kind of v1; it is served as apps/v1"},
		}},
		{file: "removed-version.yaml", doc: 3, errs: []want{
			{"apiVersion", "batch/v1beta1 CronJob is no longer served since Kubernetes 1.25: use apiVersion batch/v1"},
		}},
		{file: "removed-version.yaml", doc: 4, errs: []want{
			{"kind", "Deploymnet is not a kind of apps/v1"},
		}},
		{file: "crd.yaml", doc: 0, notes: []want{
			{"", "Kind Certificate (cert-manager.io/v1) not checked: no schema built in"},
		}},
		{file: "names.yaml", doc: 0, errs: []want{
			{"metadata.name", `metadata.name "My_App" is not a DNS subdomain (RFC 1123)`},
			{"metadata.namespace", `metadata.namespace "Team.A" is not a valid namespace name`},
			{`metadata.labels["bad key!"]`, `label key "bad key!" is invalid`},
			{"metadata.labels.ok", "must be no more than 63 bytes"},
			{"metadata.labels.ok", "a valid label must be an empty string"},
		}},
		{file: "names.yaml", doc: 1, errs: []want{
			{"metadata.name", `metadata.name "1st-service" is not a DNS label (RFC 1035: starts with a letter)`},
		}},
		{file: "names.yaml", doc: 2, errs: []want{
			{"", "metadata.name is required (ConfigMap has no metadata)"},
		}},
		{file: "names.yaml", doc: 3, errs: []want{
			{"metadata.name", "is longer than 52 characters"},
		}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s#%d", tc.file, tc.doc), func(t *testing.T) {
			rs := loadResources(t, tc.file)
			r := rs[tc.doc]
			errs, notes := v.Resource(r)
			for _, e := range errs {
				if e.Location.File != r.Location.File || e.Location.Document != tc.doc || e.Location.Line == 0 {
					t.Errorf("error without its place: %+v", e.Location)
				}
			}
			checkWant(t, "error", tc.errs, len(errs), func(i int) (string, string) { return errs[i].Location.Field, errs[i].Message })
			checkWant(t, "note", tc.notes, len(notes), func(i int) (string, string) { return notes[i].Location.Field, notes[i].Message })
		})
	}
}

func checkWant(t *testing.T, what string, wants []want, n int, get func(int) (string, string)) {
	t.Helper()
	var all []string
	for i := range n {
		f, m := get(i)
		all = append(all, fmt.Sprintf("[%s] %s", f, m))
	}
	if n != len(wants) {
		t.Fatalf("got %d %ss, want %d:\n%s", n, what, len(wants), strings.Join(all, "\n"))
	}
	for i, w := range wants {
		f, m := get(i)
		if f != w.field || !strings.Contains(m, w.contains) {
			t.Errorf("%s %d = [%s] %q\nwant [%s] containing %q", what, i, f, m, w.field, w.contains)
		}
	}
}

func TestKubernetesVersion(t *testing.T) {
	// In 1.15 extensions/v1beta1 Deployments were still served, deprecated.
	v := New(WithKubernetesVersion(1, 15))
	r := loadResources(t, "removed-version.yaml")[0]
	errs, notes := v.Resource(r)
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	if len(notes) != 1 || !strings.Contains(notes[0].Message, "deprecated since Kubernetes 1.8 and will no longer be served in 1.16: use apiVersion apps/v1") {
		t.Fatalf("notes: %v", notes)
	}
}

func TestNotAnObject(t *testing.T) {
	errs, notes := New().Resource(&manifest.Resource{Location: finding.Location{File: "x.yaml", Line: 1}, Value: ast.String("hello")})
	if len(errs) != 1 || !strings.Contains(errs[0].Message, "not an object") || len(notes) != 0 {
		t.Fatalf("errs = %v, notes = %v", errs, notes)
	}
}

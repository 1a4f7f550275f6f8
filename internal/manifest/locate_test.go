package manifest

import (
	"context"
	"testing"
)

func TestLocate(t *testing.T) {
	f := NewLoader().Parse("l.yaml", []byte(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations:
    a.b/c: "x"
    "with]bracket": y
    ~tilde/slash: z
spec:
  template:
    spec:
      containers:
        - name: app
          image: nginx
        - name: side
          image: redis
          env: &env
            - name: A
      initContainers: [{name: i, image: busybox}]
defaults: &d
  replicas: 3
merged:
  <<: *d
  own: 1
`))
	if len(f.Resources) != 1 {
		t.Fatalf("resources: %v", summary(f))
	}
	r := f.Resources[0]
	type pos struct {
		line, col int
		exact     bool
	}
	tests := []struct {
		path string
		want pos
	}{
		{"", pos{1, 1, true}},
		{"$", pos{1, 1, true}},
		{"/", pos{1, 1, true}},
		{"kind", pos{2, 1, true}},
		{"spec.template.spec.containers[0].image", pos{14, 11, true}},
		{"$.spec.template.spec.containers[1].image", pos{16, 11, true}},
		{".spec.template.spec.containers[1].name", pos{15, 11, true}},
		{"/spec/template/spec/containers/1/image", pos{16, 11, true}},
		{"spec.template.spec.containers[1]", pos{15, 11, true}},
		{"spec.template.spec.initContainers[0].image", pos{19, 34, true}},
		{`metadata.annotations["a.b/c"]`, pos{6, 5, true}},
		{`metadata.annotations['a.b/c']`, pos{6, 5, true}},
		{`metadata.annotations["with]bracket"]`, pos{7, 5, true}},
		{`$['metadata']['name']`, pos{4, 3, true}},
		{"/metadata/annotations/~0tilde~1slash", pos{8, 5, true}},
		{"spec.template.spec.containers[1].env[0].name", pos{18, 15, true}},
		{"merged.replicas", pos{21, 3, true}},
		{"merged.own", pos{24, 3, true}},
		// Deeper than the object: the deepest node that exists.
		{"spec.template.spec.containers[5].image", pos{12, 7, false}},
		{"spec.template.spec.containers[0].securityContext.privileged", pos{13, 11, false}},
		{"metadata.name.first", pos{4, 3, false}},
		{"spec.template.spec.containers.image", pos{12, 7, false}},
		// Nothing at all.
		{"status", pos{0, 0, false}},
		{"/status/phase", pos{0, 0, false}},
		{`metadata["unclosed`, pos{0, 0, false}},
	}
	for _, tt := range tests {
		l, c, exact := r.Locate(tt.path)
		if got := (pos{l, c, exact}); got != tt.want {
			t.Errorf("Locate(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
	var nilRes *Resource
	if l, c, ok := nilRes.Locate("a"); l != 0 || c != 0 || ok {
		t.Error("nil resource")
	}
}

func TestContainers(t *testing.T) {
	containers := func(doc string) []Container {
		f := NewLoader().Parse("c.yaml", []byte(doc))
		if len(f.Resources) != 1 {
			t.Fatalf("resources: %v", summary(f))
		}
		return f.Resources[0].Containers()
	}
	const podSpec = `
      ephemeralContainers:
        - name: debug
          image: busybox
      containers:
        - name: app
          image: nginx
      initContainers:
        - {name: init, image: alpine}
`
	wrap := func(kind, prefix string) string {
		// prefix holds the lines leading to the pod spec, indented so that
		// podSpec's six spaces line up.
		return "apiVersion: v1\nkind: " + kind + "\n" + prefix + podSpec
	}
	tests := []struct {
		kind, doc, path string
		line            int // of the first container
	}{
		{"Pod", "apiVersion: v1\nkind: Pod\nspec:" + indent(podSpec, -4), "spec", 5},
		{"Deployment", wrap("Deployment", "spec:\n  template:\n    spec:"), "spec.template.spec", 7},
		{"StatefulSet", wrap("StatefulSet", "spec:\n  template:\n    spec:"), "spec.template.spec", 7},
		{"DaemonSet", wrap("DaemonSet", "spec:\n  template:\n    spec:"), "spec.template.spec", 7},
		{"ReplicaSet", wrap("ReplicaSet", "spec:\n  template:\n    spec:"), "spec.template.spec", 7},
		{"ReplicationController", wrap("ReplicationController", "spec:\n  template:\n    spec:"), "spec.template.spec", 7},
		{"Job", wrap("Job", "spec:\n  template:\n    spec:"), "spec.template.spec", 7},
		{"PodTemplate", wrap("PodTemplate", "template:\n  metadata: {}\n  spec:\n    x: 1\n    y:"), "template.spec.y", 0},
		{"CronJob", "apiVersion: batch/v1\nkind: CronJob\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:" + indent(podSpec, 4), "spec.jobTemplate.spec.template.spec", 9},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			got := containers(tt.doc)
			if tt.line == 0 { // PodTemplate with the containers misplaced: none
				if len(got) != 0 {
					t.Errorf("got %+v", got)
				}
				return
			}
			want := []Container{
				{Name: "debug", Image: "busybox", Path: tt.path + ".ephemeralContainers[0]", Line: tt.line, Column: 0},
				{Name: "app", Image: "nginx", Path: tt.path + ".containers[0]", Line: tt.line + 3},
				{Name: "init", Image: "alpine", Path: tt.path + ".initContainers[0]", Line: tt.line + 6},
			}
			if len(got) != len(want) {
				t.Fatalf("got %+v", got)
			}
			for i := range want {
				want[i].Column = got[0].Column
				if i == 2 {
					want[i].Column = got[0].Column + 1 // after "{"
				}
				if got[i] != want[i] {
					t.Errorf("container %d = %+v, want %+v", i, got[i], want[i])
				}
			}
		})
	}
	f := NewLoader().Parse("s.yaml", []byte("apiVersion: v1\nkind: Service\nspec: {}\n"))
	if c := f.Resources[0].Containers(); c != nil || f.Resources[0].PodSpecPath() != "" {
		t.Errorf("service has containers %v", c)
	}
	f = NewLoader().LoadFile(context.Background(), "testdata/multi.yaml")
	var names []string
	for _, c := range f.Resources[0].Containers() {
		names = append(names, c.Name+"="+c.Image)
	}
	if got := names; len(got) != 3 || got[0] != "init=busybox:1.36" || got[2] != "side=sidecar:2" {
		t.Errorf("multi.yaml containers = %v", got)
	}
}

// indent shifts every line of s by n spaces (negative removes).
func indent(s string, n int) string {
	lines := []byte{}
	for _, line := range splitLines(s) {
		switch {
		case n < 0 && len(line) >= -n:
			line = line[-n:]
		case n > 0 && line != "":
			line = spaces(n) + line
		}
		lines = append(lines, line...)
		lines = append(lines, '\n')
	}
	return string(lines)
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

func spaces(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = ' '
	}
	return string(b)
}

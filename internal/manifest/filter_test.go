package manifest

import (
	"testing"
)

const filterDoc = `apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  base: &base {name: merged, image: m}
  containers:
    - name: app
      image: nginx
      ports: [{name: http, containerPort: 80}, {name: "1", containerPort: 81}]
    - name: "side]car"
      image: redis
      env:
        - name: A
          valueFrom:
            secretKeyRef: {name: s, key: k}
        - name: B
          value: "x"
    - <<: *base
    - name: 1
      image: numeric
  initContainers: [{name: i, image: busybox}]
`

// TestLocateFilters: JSONPath filters [?(@.name=='x')] and
// [?(@.name=="x")] pick the first element whose string field equals x,
// in the YAML (line and column) and in a value-only resource (FromValue)
// alike. Syntax that is not understood falls back to the deepest node
// that exists, as a missing field does.
func TestLocateFilters(t *testing.T) {
	f := NewLoader().Parse("f.yaml", []byte(filterDoc))
	if len(f.Resources) != 1 {
		t.Fatalf("resources: %v", summary(f))
	}
	r := f.Resources[0]
	v := FromValue("f.json", r.Value)
	type pos struct {
		line, col int
		exact     bool
	}
	tests := []struct {
		path string
		want pos
	}{
		{"$.spec.containers[?(@.name=='app')].image", pos{9, 7, true}},
		{`$.spec.containers[?(@.name=="app")].image`, pos{9, 7, true}},
		{"spec.containers[?(@.name=='app')]", pos{8, 7, true}},
		{"spec.containers[?(@.name == 'app')].image", pos{9, 7, true}},
		{"spec.containers[ ?( @.name=='app' ) ].image", pos{9, 7, true}},
		{"spec.containers[?@.name=='app'].image", pos{9, 7, true}},
		{"spec.containers[?(@.name=='app')].ports[?(@.name=='http')].containerPort", pos{10, 28, true}},
		{"spec.containers[?(@.name=='app')].ports[?(@.name=='1')]", pos{10, 49, true}},
		// A quoted ] or ) does not end the filter; escapes are read.
		{"spec.containers[?(@.name=='side]car')].image", pos{12, 7, true}},
		{`spec.containers[?(@.name=="side]car")].env[?(@.name=="B")].value`, pos{18, 11, true}},
		{`spec.containers[?(@.name=='side\]car')].image`, pos{12, 7, true}},
		// A field below the element.
		{"spec.containers[?(@.name=='side]car')].env[?(@.valueFrom.secretKeyRef.name=='s')].name", pos{14, 11, true}},
		// Merge keys, as for any field.
		{"spec.containers[?(@.name=='merged')].image", pos{6, 30, true}},
		{"spec.initContainers[?(@.name=='i')].image", pos{22, 30, true}},
		// A string field only: name: 1 is a number.
		{"spec.containers[?(@.name=='1')].image", pos{7, 3, false}},
		// No element matches: the array.
		{"spec.containers[?(@.name=='nope')].image", pos{7, 3, false}},
		// Filters not understood: the array, as for a missing field.
		{"spec.containers[?(@.name!='app')].image", pos{7, 3, false}},
		{"spec.containers[?(@.ports[0].containerPort>80)].image", pos{7, 3, false}},
		{"spec.containers[?(@.name=='app' && @.image=='nginx')].image", pos{7, 3, false}},
		{"spec.containers[?(@.name==app)].image", pos{7, 3, false}},
		{"spec.containers[?(@=='app')].image", pos{7, 3, false}},
		{"spec.containers[*].image", pos{7, 3, false}},
		// A filter on a mapping matches nothing.
		{"metadata[?(@.name=='web')]", pos{3, 1, false}},
		// Unreadable paths: nothing.
		{"spec.containers[?(@.name=='app", pos{0, 0, false}},
		{"spec.containers[?(@.name=='app')", pos{0, 0, false}},
		{"spec.containers[?(", pos{0, 0, false}},
		{"[?(@.name=='web')]", pos{0, 0, false}},
	}
	for _, tt := range tests {
		line, col, exact := r.Locate(tt.path)
		if got := (pos{line, col, exact}); got != tt.want {
			t.Errorf("Locate(%q) = %v, want %v", tt.path, got, tt.want)
		}
		line, col, found, exact := r.Find(tt.path)
		if got := (pos{line, col, exact}); got != tt.want || found != (tt.want.line > 0) {
			t.Errorf("Find(%q) = %v found %v, want %v", tt.path, got, found, tt.want)
		}
		// The value-only resource finds the same, without positions.
		line, col, found, exact = v.Find(tt.path)
		if line != 0 || col != 0 || found != (tt.want.line > 0) || exact != tt.want.exact {
			t.Errorf("FromValue Find(%q) = %d:%d found %v exact %v, want found %v exact %v", tt.path, line, col, found, exact, tt.want.line > 0, tt.want.exact)
		}
	}
}

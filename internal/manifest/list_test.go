package manifest

import (
	"fmt"
	"strings"
	"testing"
)

// nestedLists is depth Lists, one inside the other, around a Pod.
func nestedLists(depth int) string {
	var sb strings.Builder
	for i := range depth {
		// Level i's keys are at column 2i+1; the first follows the "- "
		// of the level above.
		ind := strings.Repeat("  ", i)
		fmt.Fprintf(&sb, "apiVersion: v1\n%skind: List\n%sitems:\n%s- ", ind, ind, ind)
	}
	ind := strings.Repeat("  ", depth)
	fmt.Fprintf(&sb, "apiVersion: v1\n%skind: Pod\n%smetadata: {name: deep}\n", ind, ind)
	return sb.String()
}

func TestLists(t *testing.T) {
	const privileged = `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: List
  items:
  - apiVersion: v1
    kind: Pod
    metadata: {name: priv}
    spec:
      containers:
      - {name: app, image: x, securityContext: {privileged: true}}
  - apiVersion: v1
    kind: Service
    metadata: {name: svc}
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: after}
`
	runParseCases(t, []parseCase{
		{"List in a List", privileged, nil, []string{
			"Pod/priv 0:0@7:5", "Service/svc 0:1@13:5", "ConfigMap/after 0:1@16:3"}},
		{"three levels", nestedLists(3), nil, []string{"Pod/deep 0:0@10:7"}},
		{"at the depth bound", nestedLists(maxListDepth), nil, []string{
			fmt.Sprintf("Pod/deep 0:0@%d:%d", 3*maxListDepth+1, 2*maxListDepth+1)}},
		{"over the depth bound", nestedLists(maxListDepth + 1), nil, []string{
			fmt.Sprintf("error 0@%d:%d: Lists nested deeper than %d levels", 3*maxListDepth+1, 2*maxListDepth+1, maxListDepth)}},
		{"*List kinds nest too", "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: PodList\n  items:\n  - {apiVersion: v1, kind: Pod, metadata: {name: a}}\n", nil, []string{
			"Pod/a 0:0@7:6"}},
		{"items: null", "apiVersion: v1\nkind: List\nitems: null\n", nil, []string{"note 0@1: " + noteEmptyList}},
		{"items: ~", "apiVersion: v1\nkind: List\nitems: ~\n", nil, []string{"note 0@1: " + noteEmptyList}},
		{"items with no value", "apiVersion: v1\nkind: List\nitems:\n", nil, []string{"note 0@1: " + noteEmptyList}},
		{"items: []", "apiVersion: v1\nkind: List\nitems: []\n", nil, []string{"note 0@1: " + noteEmptyList}},
		{"empty List in a List", "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: List, items: []}\n- {apiVersion: v1, kind: ConfigMap}\n", nil, []string{
			"ConfigMap/ 0:1@5:4", "note 0@4: " + noteEmptyList}},
		{"empty json List", `{"apiVersion": "v1", "kind": "List", "items": null}`, nil, []string{"note 0@1: " + noteEmptyList}},
		{"json array holding a List", "[{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [\n {\"apiVersion\": \"v1\", \"kind\": \"Pod\"}]}]\n", nil, []string{
			"Pod/ 0:0@2:3"}},
		{"items string is an object", "apiVersion: v1\nkind: List\nitems: none\n", nil, []string{"List/ 0:-1@1:1"}},
		{"aliased item", "apiVersion: v1\nkind: List\nitems:\n- &p {apiVersion: v1, kind: Pod, metadata: {name: a}}\n- *p\n", nil, []string{
			"Pod/a 0:0@4:7", "Pod/a 0:1@4:7"}},
		{"aliased inner List", "apiVersion: v1\nkind: List\nitems:\n- &l {apiVersion: v1, kind: List, items: [{apiVersion: v1, kind: Pod}]}\n- *l\n", nil, []string{
			"Pod/ 0:0@4:44", "Pod/ 0:0@4:44"}},
		{"List that contains itself", "apiVersion: v1\nkind: List\nitems: &x\n- apiVersion: v1\n  kind: List\n  items: *x\n", nil, []string{
			`error 0@6:10: anchor "x" contains itself`}},
		{"alias bomb of Lists", "apiVersion: v1\nkind: List\nx0: &a0 [{apiVersion: v1, kind: Pod}]\n" +
			"x1: &a1 [{apiVersion: v1, kind: List, items: *a0}, {apiVersion: v1, kind: List, items: *a0}, {apiVersion: v1, kind: List, items: *a0}]\n" +
			"x2: &a2 [{apiVersion: v1, kind: List, items: *a1}, {apiVersion: v1, kind: List, items: *a1}, {apiVersion: v1, kind: List, items: *a1}]\n" +
			"items: [{apiVersion: v1, kind: List, items: *a2}, {apiVersion: v1, kind: List, items: *a2}, {apiVersion: v1, kind: List, items: *a2}]\n",
			[]Option{WithMaxAliasExpansion(20)}, []string{
				"Pod/ 0:0@3:11", "Pod/ 0:0@3:11",
				"error 0@6:45: aliases expand to more than 20 nodes (a YAML alias bomb?)"}},
		{"alias budget shared by items", "apiVersion: v1\nkind: List\nx: &d [1, 2, 3, 4, 5, 6]\nitems:\n- {apiVersion: v1, kind: A, d: *d}\n- {apiVersion: v1, kind: B, d: *d}\n", []Option{WithMaxAliasExpansion(10)}, []string{
			"A/ 0:0@5:4", "error 0@6:32: aliases expand to more than 10 nodes (a YAML alias bomb?)"}},
	})
}

// TestNestedListFields: a resource from a List in a List points at its
// own fields, as one from a plain List does.
func TestNestedListFields(t *testing.T) {
	f := NewLoader().Parse("in.yaml", []byte(nestedLists(2)+"    spec:\n      containers:\n      - name: app\n        image: nginx\n"))
	if len(f.Resources) != 1 {
		t.Fatalf("%v", summary(f))
	}
	r := f.Resources[0]
	if line, col, exact := r.Locate("spec.containers[0].image"); line != 13 || col != 9 || !exact {
		t.Errorf("image at %d:%d (exact %v), want 13:9", line, col, exact)
	}
	if cs := r.Containers(); len(cs) != 1 || cs[0].Name != "app" || cs[0].Line != 12 || cs[0].Column != 9 {
		t.Errorf("containers %+v", cs)
	}
}

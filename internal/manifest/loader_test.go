package manifest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/continuums/attest/internal/finding"
)

// summary renders what a File yielded in one comparable form:
// resources as "Kind/name doc:item@line:col", notes as "note doc@line",
// errors as "error doc@line:col: message".
func summary(f *File) []string {
	var out []string
	for _, r := range f.Resources {
		out = append(out, fmt.Sprintf("%s/%s %d:%d@%d:%d", r.Kind, r.Name, r.Location.Document, r.Item, r.Location.Line, r.Location.Column))
	}
	for _, n := range f.Notes {
		out = append(out, fmt.Sprintf("note %d@%d: %s", n.Location.Document, n.Location.Line, n.Message))
	}
	for _, e := range f.Errors {
		out = append(out, fmt.Sprintf("error %d@%d:%d: %s", e.Location.Document, e.Location.Line, e.Location.Column, e.Message))
	}
	return out
}

func TestLoadFile(t *testing.T) {
	tests := []struct {
		file string
		opts []Option
		want []string
	}{
		{"multi.yaml", nil, []string{
			"Deployment/web 0:-1@2:1",
			"Service/web 3:-1@31:1",
			"note 2@29: " + noteNotObject,
		}},
		{"list.yaml", nil, []string{
			"ConfigMap/one 0:0@4:5",
			"Secret/two 0:2@9:5",
			"note 0@8: " + noteNotObject,
		}},
		{"array.json", nil, []string{
			"ConfigMap/a 0:0@2:3",
			"ConfigMap/b 0:1@4:3",
		}},
		{"pod.json", nil, []string{"Pod/p 0:-1@2:3"}},
		{"broken.yaml", nil, []string{
			"ConfigMap/before 0:-1@1:1",
			"ConfigMap/after 2:-1@10:1",
			"error 1@8:0: invalid YAML: did not find expected ',' or ']'",
		}},
		{"duplicate.yaml", nil, []string{
			`error 0@9:7: duplicate key "image" (first at line 8)`,
		}},
		{"bomb.yaml", nil, []string{
			"error 0@12:10: aliases expand to more than 1000000 nodes (a YAML alias bomb?)",
		}},
		{"latin1.yaml", nil, []string{
			"ConfigMap/ok 0:-1@1:1",
			"error 1@9:10: invalid UTF-8 (byte 0xe9)",
		}},
		{"binary.yaml", nil, []string{
			"error 0@0:0: binary file (NUL byte at offset 31), not YAML or JSON",
		}},
		{"multi.yaml", []Option{WithMaxFileSize(100)}, []string{
			"error 0@0:0: file is 578 bytes, over the 100-byte limit",
		}},
		{"missing.yaml", nil, []string{"error 0@0:0: no such file or directory"}},
		{".", nil, []string{"error 0@0:0: is a directory, not a file"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f := NewLoader(tt.opts...).LoadFile(context.Background(), filepath.Join("testdata", tt.file))
			if f == nil {
				t.Fatal("nil File")
			}
			if f.Path != filepath.Join("testdata", tt.file) {
				t.Errorf("Path = %q", f.Path)
			}
			got := summary(f)
			if !slices.Equal(got, tt.want) {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
		})
	}
}

func TestParse(t *testing.T) {
	deep := "apiVersion: v1\nkind: ConfigMap\ndata: " + strings.Repeat("[", 300) + strings.Repeat("]", 300) + "\n"
	runParseCases(t, []parseCase{
		{"empty", "", nil, nil},
		{"only markers and comments", "---\n# nothing\n---\n", nil, nil},
		{"scalar document", "hello\n", nil, []string{"note 0@1: " + noteNotObject}},
		{"no kind", "apiVersion: v1\nmetadata: {}\n", nil, []string{"note 0@1: " + noteNotObject}},
		{"yaml sequence is not a list", "- apiVersion: v1\n  kind: Pod\n", nil, []string{"note 0@1: " + noteNotObject}},
		{"deep nesting", deep, nil, []string{"error 0@3:262: nested deeper than 256 levels"}},
		{"depth option", "apiVersion: v1\nkind: A\nx: {y: {z: 1}}\n", []Option{WithMaxDepth(2)}, []string{"error 0@3:8: nested deeper than 2 levels"}},
		{"alias option", "apiVersion: v1\nkind: A\na: &a [1, 2, 3]\nb: [*a, *a]\n", []Option{WithMaxAliasExpansion(5)}, []string{"error 0@4:9: aliases expand to more than 5 nodes (a YAML alias bomb?)"}},
		{"self-referencing anchor", "apiVersion: v1\nkind: A\na: &a [*a]\n", nil, []string{`error 0@3:8: anchor "a" contains itself`}},
		{"malformed json", "{\"apiVersion\": \"v1\",\n \"kind\": }\n", nil, []string{"error 0@2:10: invalid JSON: invalid character '}' looking for beginning of value"}},
		{"tab in yaml indent", "apiVersion: v1\nkind: A\nmetadata:\n\tname: x\n", nil, []string{"error 0@4:0: invalid YAML: found character that cannot start any token"}},
		{"control character", "apiVersion: v1\nkind: A\nx: a\x01b\n", nil, []string{"error 0@3:5: control character U+0001 is not allowed in YAML"}},
		{"duplicate after normalisation", "apiVersion: v1\nkind: A\ndata:\n  1: a\n  \"1\": b\n", nil, []string{`error 0@5:3: duplicate key "1" (first at line 4)`}},
		{"duplicate in big mapping", "apiVersion: v1\nkind: A\ndata:\n" + bigMapping(20) + "  k3: again\n", nil, []string{`error 0@24:3: duplicate key "k3" (first at line 7)`}},
		{"null key", "apiVersion: v1\nkind: A\n~: x\n", nil, []string{"error 0@3:1: null is not a valid object key"}},
		{"complex key", "apiVersion: v1\nkind: A\n? [a]\n: x\n", nil, []string{"error 0@3:3: a mapping or sequence cannot be an object key"}},
		{"infinity", "apiVersion: v1\nkind: A\nx: .inf\n", nil, []string{"error 0@3:4: value .inf +Inf cannot be represented in JSON"}},
		{"bad tag", "apiVersion: v1\nkind: A\nx: !!int abc\n", nil, []string{`error 0@3:4: cannot decode !!str "abc" as a !!int`}},
		{"bad merge", "apiVersion: v1\nkind: A\nx:\n  <<: 1\n", nil, []string{"error 0@4:7: map merge requires a mapping or a list of mappings"}},
		{"custom List kind", "apiVersion: v1\nkind: PodList\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: a}\n", nil, []string{"Pod/a 0:0@4:3"}},
		{"List without items stays an object", "apiVersion: v1\nkind: WidgetList\nspec: {}\n", nil, []string{"WidgetList/ 0:-1@1:1"}},
		{"bad item keeps siblings", "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: A, x: 1, x: 2}\n- {apiVersion: v1, kind: B}\n", nil, []string{
			"B/ 0:1@5:4", `error 0@4:35: duplicate key "x" (first at line 4)`}},
		{"flow mapping position is first key", "{apiVersion: v1,\n kind: A}\n", nil, []string{"A/ 0:-1@1:2"}},
		{"bom", "\ufeffapiVersion: v1\nkind: A\n", nil, []string{"A/ 0:-1@1:1"}},
		{"crlf", "apiVersion: v1\r\nkind: A\r\n---\r\napiVersion: v1\r\nkind: B\r\n", nil, []string{"A/ 0:-1@1:1", "B/ 1:-1@4:1"}},
		{"error without resync point", "apiVersion: v1\nkind: A\n---\nx: [\n", nil, []string{"A/ 0:-1@1:1", "error 1@4:0: invalid YAML: did not find expected node content"}},
	})
}

// parseCase is one document and the summary (summary) its parse must give;
// "json" in the name parses it as in.json.
type parseCase struct {
	name string
	in   string
	opts []Option
	want []string
}

// runParseCases parses each case and checks its summary and that every
// error names the file.
func runParseCases(t *testing.T, tests []parseCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "in.yaml"
			if strings.Contains(tt.name, "json") {
				name = "in.json"
			}
			f := NewLoader(tt.opts...).Parse(name, []byte(tt.in))
			got := summary(f)
			if !slices.Equal(got, tt.want) {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
			for _, e := range f.Errors {
				if e.Location.File != name {
					t.Errorf("error without file: %+v", e)
				}
			}
		})
	}
}

func bigMapping(n int) string {
	var sb strings.Builder
	for i := range n {
		fmt.Fprintf(&sb, "  k%d: v\n", i)
	}
	return sb.String()
}

func TestResourceFields(t *testing.T) {
	f := NewLoader().LoadFile(context.Background(), "testdata/multi.yaml")
	r := f.Resources[0]
	if r.APIVersion != "apps/v1" || r.Kind != "Deployment" || r.Name != "web" || r.Namespace != "shop" {
		t.Errorf("identity: %+v", r.Ref())
	}
	if want := map[string]string{"app": "web", "tier": "frontend"}; !mapsEqual(r.Labels, want) {
		t.Errorf("labels = %v, want %v (non-string values dropped)", r.Labels, want)
	}
	if r.Annotations["a.b/c"] != "x" {
		t.Errorf("annotations = %v", r.Annotations)
	}
	obj := r.Object()
	spec := obj["spec"].(map[string]any)
	if fmt.Sprint(spec["replicas"]) != "2" {
		t.Errorf("Object spec.replicas = %v", spec["replicas"])
	}
	p := NewLoader().LoadFile(context.Background(), "testdata/pod.json").Resources[0]
	if p.Labels["on"] != "yes" {
		t.Errorf("quoted JSON strings must stay strings: %v", p.Labels)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestStdin(t *testing.T) {
	l := NewLoader(WithStdin(strings.NewReader("apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n")))
	f := l.LoadFile(context.Background(), "-")
	if got := summary(f); !slices.Equal(got, []string{"Namespace/x 0:-1@1:1"}) || f.Resources[0].Location.File != "-" {
		t.Errorf("got %v", got)
	}
	l = NewLoader(WithStdin(strings.NewReader(strings.Repeat("a", 2000))), WithMaxFileSize(1024))
	if got := summary(l.LoadFile(context.Background(), "-")); !slices.Equal(got, []string{"error 0@0:0: cannot read standard input: input is over the 1 KiB limit"}) {
		t.Errorf("got %v", got)
	}
}

func TestUnreadableFile(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads files whatever their permissions")
	}
	p := filepath.Join(t.TempDir(), "secret.yaml")
	if err := os.WriteFile(p, []byte("a: 1\n"), 0o000); err != nil {
		t.Fatal(err)
	}
	f := NewLoader().LoadFile(context.Background(), p)
	if len(f.Errors) != 1 || f.Errors[0].Message != "cannot read: permission denied" {
		t.Errorf("got %v", summary(f))
	}
}

// TestHugeFile checks that a 200 MB file is refused from its size alone: the
// file is sparse, so this costs no disk and no reading.
func TestHugeFile(t *testing.T) {
	if testing.Short() {
		t.Skip("creates a 200 MB sparse file")
	}
	p := filepath.Join(t.TempDir(), "huge.yaml")
	fh, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := fh.Truncate(200 << 20); err != nil {
		t.Fatal(err)
	}
	fh.Close()
	f := NewLoader().LoadFile(context.Background(), p)
	want := []finding.Error{{Location: finding.Location{File: p}, Message: "file is 209715200 bytes, over the 64 MiB limit"}}
	if !slices.Equal(f.Errors, want) {
		t.Errorf("got %v", f.Errors)
	}
}

func TestCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f := NewLoader().LoadFile(ctx, "testdata/pod.json")
	if len(f.Errors) != 1 || len(f.Resources) != 0 {
		t.Errorf("got %v", summary(f))
	}
}

package validate

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
)

// decoderErrors runs the real strict decoder on doc and returns each of
// its messages: one for a type error, one per field for strict errors.
func decoderErrors(t *testing.T, v *Validator, doc string) []string {
	t.Helper()
	var obj map[string]any
	if err := json.Unmarshal([]byte(doc), &obj); err != nil {
		t.Fatal(err)
	}
	_, _, err := v.codec.Decode([]byte(doc), nil, nil)
	if err == nil {
		t.Fatalf("no error decoding %s", doc)
	}
	if se, ok := runtime.AsStrictDecodingError(err); ok {
		var out []string
		for _, e := range se.Errors() {
			out = append(out, e.Error())
		}
		return out
	}
	return []string{err.Error()}
}

func TestParseRealDecoderErrors(t *testing.T) {
	v := New()
	tests := []struct {
		name, doc string
		kind      errKind
		raw       string // the decoder's path
		exact     string // resolved against the object
		got, want string
	}{
		{
			name:  "unknown field in a container",
			doc:   `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x"},"spec":{"template":{"spec":{"containers":[{"name":"a"},{"name":"b","imagePullPolcy":"x"}]}}}}`,
			kind:  errUnknown,
			raw:   "spec.template.spec.containers[1].imagePullPolcy",
			exact: "spec.template.spec.containers[1].imagePullPolcy",
		},
		{
			name:  "unknown field with a quote in its name",
			doc:   `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},"we\"ird":1}`,
			kind:  errUnknown,
			raw:   `we"ird`,
			exact: `["we\"ird"]`,
		},
		{
			name:  "unknown field with a dot in its name",
			doc:   `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"containers":[{"name":"a","x.y":1}]}}`,
			kind:  errUnknown,
			raw:   "spec.containers[0].x.y",
			exact: `spec.containers[0]["x.y"]`,
		},
		{
			name:  "string for an int32",
			doc:   `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x"},"spec":{"replicas":"3"}}`,
			kind:  errType,
			raw:   "spec.replicas",
			exact: "spec.replicas",
			got:   "string", want: "int32",
		},
		{
			name:  "fraction for an int32",
			doc:   `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x"},"spec":{"replicas":3.5}}`,
			kind:  errType,
			raw:   "spec.replicas",
			exact: "spec.replicas",
			got:   "number", want: "int32",
		},
		{
			name:  "type error inside the second element of an array",
			doc:   `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"containers":[{"name":"a","env":[{"name":"A","value":"1"}]},{"name":"b","env":[{"name":"B","value":"2"},{"name":"C","value":3}]}]}}`,
			kind:  errType,
			raw:   "spec.containers.env.value",
			exact: "spec.containers[1].env[1].value",
			got:   "number", want: "string",
		},
		{
			name:  "inlined struct name in the path",
			doc:   `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"containers":[{"name":"a","livenessProbe":{"httpGet":{"port":{"a":1}}}}]}}`,
			kind:  errType,
			raw:   "spec.containers.livenessProbe.ProbeHandler.httpGet.port",
			exact: "spec.containers[0].livenessProbe.httpGet.port",
			got:   "object", want: "int32",
		},
		{
			name:  "map value of the wrong type",
			doc:   `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","labels":{"app.kubernetes.io/name":true}}}`,
			kind:  errType,
			raw:   "metadata.labels",
			exact: `metadata.labels["app.kubernetes.io/name"]`,
			got:   "bool", want: "string",
		},
		{
			name:  "object where an array belongs",
			doc:   `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"containers":{"name":"a"}}}`,
			kind:  errType,
			raw:   "spec.containers",
			exact: "spec.containers",
			got:   "object", want: "[]v1.Container",
		},
		{
			name: "malformed quantity names no field",
			doc:  `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"containers":[{"name":"a","resources":{"limits":{"cpu":"abc"}}}]}}`,
			kind: errOther,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msgs := decoderErrors(t, v, tc.doc)
			if len(msgs) != 1 {
				t.Fatalf("decoder gave %d errors: %q", len(msgs), msgs)
			}
			de := parseDecodeError(msgs[0])
			if de.kind != tc.kind || de.path != tc.raw || de.got != tc.got || de.want != tc.want {
				t.Fatalf("parse(%q) = %+v, want kind %d path %q got %q want %q", msgs[0], de, tc.kind, tc.raw, tc.got, tc.want)
			}
			if tc.kind == errOther {
				return
			}
			var obj map[string]any
			_ = json.Unmarshal([]byte(tc.doc), &obj)
			p, ok := resolve(obj, splitRawPath(de.path), de.got)
			if !ok || formatPath(p) != tc.exact {
				t.Fatalf("resolve(%q) = %q, %v; want %q", de.path, formatPath(p), ok, tc.exact)
			}
		})
	}
}

func TestBisectFindsUnnamedField(t *testing.T) {
	v := New()
	doc := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x","creationTimestamp":"2024-01-01T00:00:00Z"},"spec":{"containers":[{"name":"a","resources":{"limits":{"cpu":"1"}}},{"name":"b","resources":{"limits":{"cpu":"1","memory":"lots"}}}]}}`
	var obj map[string]any
	_ = json.Unmarshal([]byte(doc), &obj)
	err := v.decodeErr(obj)
	if err == nil {
		t.Fatal("expected an error")
	}
	p, ok := v.bisect(obj, err.Error())
	if !ok || formatPath(p) != "spec.containers[1].resources.limits.memory" {
		t.Fatalf("bisect = %q, %v", formatPath(p), ok)
	}
	// The input is left alone.
	if _, ok := lookup(obj, p); !ok {
		t.Fatal("bisect changed its input")
	}
}

func TestFormatPath(t *testing.T) {
	p := []segment{{key: "metadata"}, {key: "annotations"}, {key: "a.b/c"}}
	if got := formatPath(p); got != `metadata.annotations["a.b/c"]` {
		t.Fatal(got)
	}
	p = []segment{{key: "spec"}, {key: "containers"}, {index: 2, isIndex: true}, {key: "image"}}
	if got := formatPath(p); got != "spec.containers[2].image" {
		t.Fatal(got)
	}
}

// FuzzParseDecodeError: any message parses without panicking; a strict
// error round-trips its path; resolving the parsed path against an object
// never panics and, when it succeeds, names a value that exists.
func FuzzParseDecodeError(f *testing.F) {
	for _, s := range []string{
		`strict decoding error: unknown field "spec.template.spec.containers[0].imagePullPolcy"`,
		`unknown field "a.b[1].c"`,
		`duplicate field "metadata.name"`,
		`json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32`,
		`json: cannot unmarshal number 3.5 into Go struct field DeploymentSpec.spec.replicas of type int32`,
		`json: cannot unmarshal object into Go struct field HTTPGetAction.spec.containers.livenessProbe.ProbeHandler.httpGet.port of type int32`,
		`json: cannot unmarshal number into Go value of type string`,
		`quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`,
		`unknown field "`, `unknown field "a\"`, `[`, `a[`, `a[0`, `a[-1]`, `..`, `[0]]`,
	} {
		f.Add(s)
	}
	obj := map[string]any{
		"spec": map[string]any{
			"containers": []any{
				map[string]any{"name": "a", "x.y": json.Number("1")},
				map[string]any{"name": "b", "env": []any{map[string]any{"value": true}}},
			},
		},
		"a": map[string]any{"b": []any{nil, map[string]any{"c": "d"}}},
	}
	f.Fuzz(func(t *testing.T, msg string) {
		de := parseDecodeError(msg)
		for _, p := range []string{msg, de.path} {
			steps := splitRawPath(p)
			for _, got := range []string{"", "string", "number", "bool", "object", "array"} {
				if path, ok := resolve(obj, steps, got); ok {
					if _, found := lookup(obj, path); !found {
						t.Fatalf("resolve(%q) = %q, which does not exist", p, formatPath(path))
					}
				}
			}
		}
		// Round trip of a strict error's path.
		if !strings.ContainsRune(msg, '\n') {
			back := parseDecodeError("unknown field " + strconv.Quote(msg))
			if back.kind != errUnknown || back.path != msg {
				t.Fatalf("round trip of %q: %+v", msg, back)
			}
		}
	})
}

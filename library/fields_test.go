package library_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/continuums/attest/internal/attestation"
	"github.com/continuums/attest/library"
)

// TestFindingShape evaluates every policy on every resource of the Rego
// tests' case tables (rules named *cases holding objects with a
// "resource") and checks each finding: violated true, a message, a known
// severity, and a details.field that resolves to a node of the resource,
// since reports point at that node's line.
func TestFindingShape(t *testing.T) {
	ctx := context.Background()
	mods := loadModules(t, library.FS())
	var opts []func(*rego.Rego)
	for _, m := range mods {
		opts = append(opts, rego.ParsedModule(m))
	}
	opts = append(opts, attestation.RegoOptions(attestation.NoStore{})...)

	// Gather the case tables.
	q, err := rego.New(append(slices.Clone(opts), rego.Query(`cases := [c |
		some pkg, rules in data.attest
		endswith(pkg, "_test")
		some name, table in rules
		endswith(name, "cases")
		is_array(table)
		some c in table
		is_object(c.resource)
	]`))...).Eval(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cases := q[0].Bindings["cases"].([]any)
	if len(cases) < 50 {
		t.Fatalf("only %d cases found", len(cases))
	}
	prepared, err := rego.New(append(slices.Clone(opts), rego.Query(`out := [[pkg, v] |
		some pkg in ["security", "deployment", "compliance", "context", "image_security", "resource_limits"]
		some v in data.attest[pkg].violation
	]`))...).PrepareForEval(ctx)
	if err != nil {
		t.Fatal(err)
	}
	findings := 0
	fields := 0
	for i, c := range cases {
		c := c.(map[string]any)
		res := c["resource"]
		in := map[string]any{"resource": res, "parameters": orEmpty(c["params"]), "context": orEmpty(c["ctx"])}
		rs, err := prepared.Eval(ctx, rego.EvalInput(in))
		if err != nil {
			t.Fatalf("case %d (%v): %v", i, c["note"], err)
		}
		for _, pv := range rs[0].Bindings["out"].([]any) {
			pv := pv.([]any)
			v, ok := pv[1].(map[string]any)
			where := fmt.Sprintf("case %v, attest.%v", c["note"], pv[0])
			if !ok {
				t.Errorf("%s: result is not an object: %v", where, pv[1])
				continue
			}
			findings++
			if v["violated"] != true {
				t.Errorf("%s: violated is not true: %v", where, v)
			}
			if m, _ := v["message"].(string); m == "" {
				t.Errorf("%s: no message: %v", where, v)
			}
			if s, ok := v["severity"]; ok && !slices.Contains(allowedSeverities, fmt.Sprint(s)) {
				t.Errorf("%s: severity %v", where, s)
			}
			d, _ := v["details"].(map[string]any)
			f, _ := d["field"].(string)
			if f == "" {
				continue
			}
			fields++
			if _, err := resolve(res, f); err != nil {
				t.Errorf("%s: details.field %q does not resolve: %v (%v)", where, f, err, v["message"])
			}
		}
	}
	t.Logf("%d cases, %d findings, %d with a field", len(cases), findings, fields)
}

func orEmpty(v any) any {
	if v == nil {
		return map[string]any{}
	}
	return v
}

// resolve follows a field path as reports write it:
// spec.containers[0].image, metadata.annotations["a.b/c"].
func resolve(doc any, path string) (any, error) {
	cur := doc
	for i := 0; i < len(path); {
		switch path[i] {
		case '.':
			i++
		case '[':
			end := strings.IndexByte(path[i:], ']')
			if path[i+1] == '"' {
				// quoted key: find the closing quote, honouring escapes
				j := i + 2
				for ; j < len(path) && path[j] != '"'; j++ {
					if path[j] == '\\' {
						j++
					}
				}
				key, err := strconv.Unquote(path[i+1 : j+1])
				if err != nil {
					return nil, err
				}
				m, ok := cur.(map[string]any)
				if !ok || m[key] == nil {
					return nil, fmt.Errorf("no key %q", key)
				}
				cur = m[key]
				i = j + 2
				continue
			}
			if end < 0 {
				return nil, fmt.Errorf("unclosed [")
			}
			n, err := strconv.Atoi(path[i+1 : i+end])
			if err != nil {
				return nil, err
			}
			a, ok := cur.([]any)
			if !ok || n >= len(a) {
				return nil, fmt.Errorf("no index %d", n)
			}
			cur = a[n]
			i += end + 1
		default:
			j := i
			for j < len(path) && path[j] != '.' && path[j] != '[' {
				j++
			}
			key := path[i:j]
			m, ok := cur.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%q: not an object", key)
			}
			if _, ok := m[key]; !ok {
				return nil, fmt.Errorf("no key %q", key)
			}
			cur = m[key]
			i = j
		}
	}
	return cur, nil
}

func TestResolve(t *testing.T) {
	doc := map[string]any{"a": map[string]any{"b.c/d": []any{"x", map[string]any{"e": 1}}}}
	for path, want := range map[string]string{
		`a["b.c/d"][0]`:   "x",
		`a["b.c/d"][1].e`: "1",
	} {
		got, err := resolve(doc, path)
		if err != nil || fmt.Sprint(got) != want {
			t.Errorf("resolve(%s) = %v, %v; want %v", path, got, err, want)
		}
	}
	for _, bad := range []string{"a.b", `a["b.c/d"][2]`, "a.x.y"} {
		if _, err := resolve(doc, bad); err == nil {
			t.Errorf("resolve(%s) resolved", bad)
		}
	}
}

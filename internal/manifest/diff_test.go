package manifest

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"gopkg.in/yaml.v3"
	sigsyaml "sigs.k8s.io/yaml"
)

// The deliberate differences from sigs.k8s.io/yaml are listed in scalar.go;
// the differential test leaves those inputs out.

// sigsValue is what Kubernetes makes of the first document of data.
func sigsValue(data []byte) (ast.Value, bool) {
	j, err := sigsyaml.YAMLToJSON(data)
	if err != nil {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.UseNumber() // keeps integers over 2^53 exact, as ours are
	var x any
	if err := dec.Decode(&x); err != nil {
		return nil, false
	}
	v, err := ast.InterfaceToValue(x)
	if err != nil {
		return nil, false
	}
	return v, true
}

// ourValue converts the first document of data.
func ourValue(data []byte) (ast.Value, bool) {
	var n yaml.Node
	err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&n)
	if err == io.EOF {
		return ast.InternedNullValue, true
	}
	if err != nil {
		return nil, false
	}
	v, err := newConverter(DefaultMaxDepth, DefaultMaxAliasExpansion).value(&n, 0)
	return v, err == nil
}

var diffSeeds = []string{
	"a: yes\nb: No\nc: on\nd: OFF\ne: y\nf: n\ng: True\nh: FALSE\n",
	"a: 0x1F\nb: 0o17\nc: 0777\nd: 08\ne: 1_000\nf: +12\ng: -0\nh: 0b101\ni: -0b11\n",
	"a: 1.5\nb: 1e3\nc: .5\nd: 1.\ne: -1.0e-7\nf: 1e21\ng: 6.02e+23\nh: 9223372036854775808\ni: 18446744073709551616\n",
	"a: 2001-12-14t21:59:43.10-05:00\nb: 2002-12-14\nc: 2001-12-14 21:59:43.10\n",
	"a: ~\nb: null\nc:\nd: Null\ne: \"\"\nf: ''\n",
	"a: \"yes\"\nb: '12'\nc: |\n  text\nd: >\n  folded\n",
	"a: !!str 12\nb: !!int \"12\"\nc: !!float 1\nd: !!bool yes\ne: !!null ~\nf: !!binary aGVsbG8=\ng: !foo bar\nh: !!timestamp 2001-01-01\n",
	"base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\nn:\n  y: 0\n  <<: *b\nl:\n  <<: [{x: 9}, *b]\n",
	"1: a\n1.5: b\ntrue: c\nno: d\n0x10: e\n1e3: f\n0.1: g\n1.0000001: h\n",
	"{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"n\": 1.0, \"x\": [1, 2.5, true, null]}",
	"- a\n- [b, c]\n- {d: e}\n",
	"a: &x [1, 2]\nb: *x\n",
	"a: \"\\u00e9\\t\\x41\"\n",
	"plain text\n",
	"a: .inf\n",
	"a: 12:30\nb: 1:2:3\nc: 0.1.2\ne: +\nf: .\n",
	"? [a]\n: b\n",
	"~: a\n",
}

func TestConvertMatchesSigsYAML(t *testing.T) {
	for _, s := range diffSeeds {
		compareWithSigs(t, []byte(s))
	}
}

func FuzzConvertMatchesSigsYAML(f *testing.F) {
	for _, s := range diffSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4096 {
			return
		}
		compareWithSigs(t, data)
	})
}

func compareWithSigs(t *testing.T, data []byte) {
	t.Helper()
	if hasNonSpecificTag(data) {
		return
	}
	want, ok := sigsValue(data)
	if !ok {
		return
	}
	got, ok := ourValue(data)
	if !ok {
		return
	}
	if got.Compare(want) != 0 {
		t.Errorf("input %q:\n got  %v\n want %v", data, got, want)
	}
}

// hasNonSpecificTag spots "!" used as a tag on its own (a documented
// difference) or at least something that might be one.
func hasNonSpecificTag(data []byte) bool {
	for i := 0; i < len(data); i++ {
		if data[i] == '!' && (i+1 == len(data) || data[i+1] == ' ' || data[i+1] == '\t' || data[i+1] == '\n' || data[i+1] == '\r' || data[i+1] == ',' || data[i+1] == ']' || data[i+1] == '}') {
			return true
		}
	}
	return false
}

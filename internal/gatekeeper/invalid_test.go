package gatekeeper

import (
	"context"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// gatorVerdicts is gator v3.23.1's verdict on each test of
// testdata/invalid/suite.yaml (true: passed), with a piece of attest's
// message for the failures.
var gatorVerdicts = map[string]struct {
	pass bool
	msg  string
}{
	"missing-file":         {false, "testdata/invalid/no-such-constraint.yaml: cannot read: no such file or directory"},
	"accepted":             {false, "constraint testdata/invalid/good.yaml was accepted"},
	"bad-type":             {true, ""},
	"unknown-parameter":    {false, "rejected, but not by schema validation, which is what an invalid test wants (gator verify fails it too): testdata/invalid/unknown-parameter.yaml:5:24: K8sParams unknown-parameter: spec.parameters.extra: unknown field"},
	"unknown-and-bad-type": {true, ""},
	"match-typo":           {false, "spec.match.excludedNamespace: unknown field"},
	"match-pattern":        {true, ""},
	"bad-selector":         {false, "unknown operator"},
	"bad-label-key":        {false, `bad-label-key.yaml:5:56: K8sParams bad-label-key: matchExpressions: invalid label key "bad key!": name part must consist of alphanumeric characters`},
	"bad-label-value":      {false, `bad-label-value.yaml:5:46: K8sParams bad-label-value: matchLabels: invalid label value "not a value": a valid label must be an empty string`},
	"broken-yaml":          {false, "testdata/invalid/broken-yaml.yaml:2: YAML"},
	"other-kind":           {false, "which no ConstraintTemplate defines"},
	"bad-name":             {false, "RFC 1123"},
	"empty-file":           {false, "want one constraint, found 0"},
	"directory":            {false, "testdata/invalid: cannot read"},
}

// TestInvalidTests: an invalid: true test passes only when the constraint
// fails schema validation, as in gator verify; a constraint file that is
// missing, unreadable or not YAML fails the test instead of counting as
// rejected.
func TestInvalidTests(t *testing.T) {
	res, err := RunSuiteFile(context.Background(), "testdata/invalid/suite.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != len(gatorVerdicts) {
		t.Fatalf("want %d results, got %d", len(gatorVerdicts), len(res))
	}
	for _, r := range res {
		want, ok := gatorVerdicts[r.Test]
		if !ok {
			t.Fatalf("unexpected test %q", r.Test)
		}
		if (r.Err == nil) != want.pass {
			t.Errorf("%s: got %v, want pass %v", r.Test, r.Err, want.pass)
			continue
		}
		if r.Err != nil && !strings.Contains(r.Err.Error(), want.msg) {
			t.Errorf("%s: want %q in %q", r.Test, want.msg, r.Err)
		}
	}
	if g := gatorBin(t); g != "" {
		out, _ := exec.Command(g, "verify", "-v", "testdata/invalid/suite.yaml").CombinedOutput()
		for _, m := range regexp.MustCompile(`(?m)^--- (PASS|FAIL): (\S+)`).FindAllStringSubmatch(string(out), -1) {
			if want, ok := gatorVerdicts[m[2]]; !ok || want.pass != (m[1] == "PASS") {
				t.Errorf("gator now says %s for %s", m[1], m[2])
			}
		}
	}
}

package server

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

// reference is what encoding/json (with json.Number) and
// ast.InterfaceToValue make of data: parseJSONValue must agree.
func reference(data []byte) (ast.Value, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		return nil, err
	}
	// parseJSONValue refuses numbers longer than maxNumberText, which OPA
	// takes (and then compares slowly): the one intended difference.
	if hasLongNumber(x) {
		return nil, errTrailing
	}
	if len(bytes.TrimLeft(data[dec.InputOffset():], " \t\r\n")) > 0 {
		return nil, errTrailing
	}
	return ast.InterfaceToValue(x)
}

var errTrailing = os.ErrInvalid

func hasLongNumber(x any) bool {
	switch v := x.(type) {
	case json.Number:
		return len(v) > maxNumberText
	case []any:
		return slices.ContainsFunc(v, hasLongNumber)
	case map[string]any:
		for _, e := range v {
			if hasLongNumber(e) {
				return true
			}
		}
	}
	return false
}

func checkAgainstReference(t *testing.T, data []byte) {
	t.Helper()
	want, werr := reference(data)
	got, gerr := parseJSONValue(data, 10000, nil)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%q: encoding/json error %v, parseJSONValue error %v", data, werr, gerr)
	}
	if werr == nil && ast.Compare(got, want) != 0 {
		t.Fatalf("%q: got %v, want %v", data, got, want)
	}
}

func TestParseJSONValue(t *testing.T) {
	for _, s := range []string{
		`{}`, `[]`, `null`, `true`, `false`, `0`, `-0`, `1.5e-3`, `-12E+2`, `"x"`, ` {"a" : [1, 2, {"b": null}] } `,
		`"esc \" \\ \/ \b \f \n \r \t \u00e9 \ud83d\ude00"`, `"bad utf8 ` + "\xff" + `"`, `{"a":1,"a":2}`, `"é"`,
		`{"a":}`, `[1,]`, `{"a":1,}`, `01`, `1.`, `.5`, `-`, `1e`, `tru`, `nul`, `"open`, "\"ctl\x01\"", `{"a" 1}`,
		`[1 2]`, `{} {}`, `{1:2}`, ``, `   `, `"\x"`, `"\u12"`,
		// OPA's limit on a number's exponent: beyond it, comparing the
		// number panics inside OPA.
		`1e1000000000`, `{"replicas":1E100000}`, `-1e-400000`, `1e30102`, `1e-30102`, `[1e3, 2.5E-7]`,
	} {
		checkAgainstReference(t, []byte(s))
	}
	review, err := os.ReadFile(filepath.Join("..", "..", "bench", "load", "review.json"))
	if err != nil {
		t.Fatal(err)
	}
	checkAgainstReference(t, review)
	if _, err := parseJSONValue([]byte(`[[[[1]]]]`), 3, nil); err == nil {
		t.Error("nesting over the limit accepted")
	}
	if _, err := parseJSONValue([]byte(`{"a":{"b":[[[[1]]]]}}`), 3, jsonKeep{}); err == nil {
		t.Error("nesting over the limit accepted in a skipped value")
	}
}

func FuzzParseJSONValue(f *testing.F) {
	f.Add([]byte(`{"a":[1,"b",null,true,{"c":-1.5e3}]}`))
	f.Add([]byte(`"\u00e9\ud83d\ude00"`))
	f.Fuzz(func(t *testing.T, data []byte) { checkAgainstReference(t, data) })
}

// TestDecodeAdmissionAgrees: the handler's decoder accepts what
// DecodeReview (encoding/json into the Kubernetes types) accepts, refuses
// what it refuses, with the same message, and reads the same object.
func TestDecodeAdmissionAgrees(t *testing.T) {
	bench, err := os.ReadFile(filepath.Join("..", "..", "bench", "load", "review.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, data := range [][]byte{
		bench,
		review("u1", "CREATE", privilegedPod, ""),
		review("u2", "DELETE", "", compliantDeployment),
		review("u3", "UPDATE", compliantDeployment, privilegedPod),
		review("u4", "DELETE", "", ""),
		review("", "CREATE", privilegedPod, ""),
		review("u5", "CREATE", "", ""),
		review("u6", "PATCH", privilegedPod, ""),
		[]byte(`{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1beta1","request":{"uid":"x","operation":"CREATE","object":{}}}`),
		[]byte(`{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":null}`),
		[]byte(`{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1"}`),
		[]byte(`{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"uid":"x","operation":"CREATE","object":{}}} x`),
	} {
		rv, werr := DecodeReview(data)
		got, gerr := decodeAdmission(data, 256)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("%s:\nDecodeReview: %v\ndecodeAdmission: %v", data, werr, gerr)
		}
		if werr != nil {
			if werr.Error() != gerr.Error() && !bytes.HasPrefix(data, []byte("{")) {
				t.Errorf("messages differ: %q, %q", werr, gerr)
			}
			continue
		}
		req := rv.Request
		if got.uid != string(req.UID) || got.operation != string(req.Operation) || got.namespace != req.Namespace ||
			got.kind != req.Kind.Kind || got.username != req.UserInfo.Username || len(got.groups) != len(req.UserInfo.Groups) {
			t.Errorf("%s: request fields differ: %+v", data, got)
		}
		for _, c := range []struct {
			raw []byte
			v   ast.Value
		}{{req.Object.Raw, got.object}, {req.OldObject.Raw, got.oldObject}} {
			if len(c.raw) == 0 {
				if c.v != nil {
					t.Errorf("%s: an object where there is none: %v", data, c.v)
				}
				continue
			}
			want, err := ast.ValueFromReader(bytes.NewReader(c.raw))
			if err != nil {
				t.Fatal(err)
			}
			if c.v == nil || ast.Compare(c.v, want) != 0 {
				t.Errorf("%s: object %v, want %v", data, c.v, want)
			}
		}
	}
}

// TestNumberRangeAgreesWithOPA: numbers with an exponent are refused
// exactly when OPA's validateNumber refuses them, at and around the
// limit; numbers over maxNumberText characters are refused whatever OPA
// says.
func TestNumberRangeAgreesWithOPA(t *testing.T) {
	var cases []string
	for _, m := range []string{"1", "9.99", "0.5", "5", "0.0000123", "123456789012345678901234567890123456789012345", "-3"} {
		for _, e := range []int{30097, 30100, 30101, 30102, 30103, 30104, 30107, 30110, 100000} {
			cases = append(cases, m+"e"+strconv.Itoa(e), m+"e-"+strconv.Itoa(e))
		}
	}
	cases = append(cases, "0e1000000000", "-0.000e-99999999999999999999", "1e99999999999999999999", "0.0e0")
	for _, c := range cases {
		_, oerr := ast.InterfaceToValue(json.Number(c))
		if got := numberInRange([]byte(c)); got != (oerr == nil) {
			t.Errorf("%s: in range %v, OPA says %v", c, got, oerr)
		}
	}
	for _, long := range []string{strings.Repeat("9", maxNumberText+1), "0." + strings.Repeat("0", maxNumberText) + "1"} {
		if _, err := parseJSONValue([]byte(`{"replicas":`+long+`}`), 16, nil); err == nil || !strings.Contains(err.Error(), "at most 1000") {
			t.Errorf("a number of %d characters: %v", len(long), err)
		}
	}
	if _, err := parseJSONValue([]byte(strings.Repeat("9", maxNumberText)), 16, nil); err != nil {
		t.Errorf("a number of %d characters: %v", maxNumberText, err)
	}
}

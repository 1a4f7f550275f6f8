package manifest

import (
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/open-policy-agent/opa/v1/ast"
	"gopkg.in/yaml.v3"
)

// Scalar resolution follows go.yaml.in/yaml/v2 (YAML 1.1), which is what
// sigs.k8s.io/yaml and therefore kubectl and the API server use, not yaml.v3's
// YAML 1.2 rules: "yes", "on", "y" are booleans, "0777" is octal, "1_000" is
// an integer. A policy must see the values the cluster would see, so the code
// below mirrors go.yaml.in/yaml/v2's resolve() case by case rather than
// approximating it; FuzzConvertMatchesSigsYAML checks that it does.

// Deliberate differences from sigs.k8s.io/yaml:
//   - duplicate keys (including 1 and "1", which become the same JSON key)
//     are an error here; sigs.k8s.io/yaml keeps one of them at random.
//   - the non-specific tag "!" (as in `! 12`): yaml.v2 makes the value a
//     string, yaml.v3 does not tell it from an untagged scalar, so it is
//     resolved as if untagged.
//   - alias expansion is bounded by a node budget (WithMaxAliasExpansion)
//     instead of yaml.v2's alias ratio, and nesting by WithMaxDepth.
//   - syntax that only one of yaml.v2 and yaml.v3 accepts is judged by
//     yaml.v3 (the differential test compares inputs both accept).
//   - NaN and infinities are errors here, as they are in sigs.k8s.io/yaml
//     (its json.Marshal fails on them). .json files are checked as strict
//     JSON first, as kubectl does with input it sniffs as JSON.

// Short forms of the YAML 1.1 tags; yaml.v3 reports tags in this form.
const (
	tagStr       = "!!str"
	tagBool      = "!!bool"
	tagInt       = "!!int"
	tagFloat     = "!!float"
	tagNull      = "!!null"
	tagTimestamp = "!!timestamp"
	tagBinary    = "!!binary"
	tagMerge     = "!!merge"
)

type scalarKind uint8

const (
	kindString scalarKind = iota
	kindNull
	kindBool
	kindInt
	kindUint
	kindFloat
)

// scalar is a resolved YAML scalar before it becomes an OPA value or a key.
type scalar struct {
	kind scalarKind
	s    string // kindString; for kindInt the source text when already canonical
	b    bool
	i    int64
	u    uint64
	f    float64
}

// resolveNode resolves a scalar node the way go.yaml.in/yaml/v2 would.
func resolveNode(n *yaml.Node) (scalar, error) {
	if n.Style&yaml.TaggedStyle != 0 {
		return resolveTagged(n.Tag, n.Value)
	}
	// Quoted and block scalars are strings. yaml.v3 gives a plain "<<" the
	// merge tag, which resolves to the string "<<" outside a key.
	if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return scalar{kind: kindString, s: n.Value}, nil
	}
	return resolvePlain(n.Value), nil
}

// resolvePlain is yaml.v2's resolve("", in).
func resolvePlain(in string) scalar {
	if in == "" {
		return scalar{kind: kindNull}
	}
	switch c := in[0]; {
	case c >= '0' && c <= '9', c == '+', c == '-':
		if r, ok := resolveNumber(in); ok {
			return r
		}
	case c == '.':
		if r, ok := resolveSpecial(in); ok {
			return r
		}
		if f, err := strconv.ParseFloat(in, 64); err == nil {
			return scalar{kind: kindFloat, f: f}
		}
	case strings.IndexByte("yYnNtTfFoO~", c) >= 0:
		if r, ok := resolveSpecial(in); ok {
			return r
		}
	}
	return scalar{kind: kindString, s: in}
}

// resolveSpecial is yaml.v2's resolveMap: the words that are not numbers.
func resolveSpecial(in string) (scalar, bool) {
	switch in {
	case "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON":
		return scalar{kind: kindBool, b: true}, true
	case "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF":
		return scalar{kind: kindBool, b: false}, true
	case "~", "null", "Null", "NULL":
		return scalar{kind: kindNull}, true
	case ".nan", ".NaN", ".NAN":
		return scalar{kind: kindFloat, f: math.NaN()}, true
	case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF":
		return scalar{kind: kindFloat, f: math.Inf(1)}, true
	case "-.inf", "-.Inf", "-.INF":
		return scalar{kind: kindFloat, f: math.Inf(-1)}, true
	}
	return scalar{}, false
}

// resolveNumber handles scalars starting with a digit or a sign: yaml.v2
// tries, in order, int (base prefixes and leading-zero octal, underscores
// dropped), uint64, a YAML-style float, then binary with a 0b prefix.
// Timestamps are not tried: sigs.k8s.io/yaml keeps them as the source text,
// which is what falling through to a string gives.
func resolveNumber(in string) (scalar, bool) {
	if r, ok := resolveSpecial(in); ok {
		return r, true
	}
	if canonicalInt(in) {
		// The common case (ports, replicas): no parsing needed beyond a
		// range check, and the text is already what JSON would print.
		if len(in) < 19 {
			return scalar{kind: kindInt, s: in}, true
		}
	}
	plain := in
	if strings.IndexByte(in, '_') >= 0 {
		plain = strings.ReplaceAll(in, "_", "")
	}
	if i, err := strconv.ParseInt(plain, 0, 64); err == nil {
		return scalar{kind: kindInt, i: i}, true
	}
	if u, err := strconv.ParseUint(plain, 0, 64); err == nil {
		return scalar{kind: kindUint, u: u}, true
	}
	if yamlStyleFloat(plain) {
		if f, err := strconv.ParseFloat(plain, 64); err == nil {
			return scalar{kind: kindFloat, f: f}, true
		}
	}
	if strings.HasPrefix(plain, "0b") {
		if i, err := strconv.ParseInt(plain[2:], 2, 64); err == nil {
			return scalar{kind: kindInt, i: i}, true
		}
		if u, err := strconv.ParseUint(plain[2:], 2, 64); err == nil {
			return scalar{kind: kindUint, u: u}, true
		}
	} else if strings.HasPrefix(plain, "-0b") {
		if i, err := strconv.ParseInt("-"+plain[3:], 2, 64); err == nil {
			return scalar{kind: kindInt, i: i}, true
		}
	}
	return scalar{}, false
}

// canonicalInt reports whether s is a decimal integer as JSON would print
// it: optional minus, no leading zero, no sign on zero.
func canonicalInt(s string) bool {
	digits := s
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	if digits == "" || (digits[0] == '0' && (len(digits) > 1 || len(s) > 1)) {
		return false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return false
		}
	}
	return true
}

// yamlStyleFloat matches yaml.v2's ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$
// without a regexp on the hot path.
func yamlStyleFloat(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	digits := func() int {
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i - start
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	} else {
		if digits() == 0 {
			return false
		}
		if i < len(s) && s[i] == '.' {
			i++
			digits()
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

// resolveTagged is yaml.v2's resolve(tag, in) for an explicit tag, including
// its rule that a tag must agree with what the text resolves to (an int is
// accepted as a !!float) and its decoding of !!binary.
func resolveTagged(tag, in string) (scalar, error) {
	switch tag {
	case tagStr:
		return scalar{kind: kindString, s: in}, nil
	case tagBinary:
		data, err := base64.StdEncoding.DecodeString(in)
		if err != nil {
			return scalar{}, fmt.Errorf("!!binary value contains invalid base64 data")
		}
		return scalar{kind: kindString, s: jsonSafeString(data)}, nil
	case tagBool, tagInt, tagFloat, tagNull, tagTimestamp:
	default:
		// Unknown and local tags (!foo) and !!map/!!seq on a scalar: yaml.v2
		// keeps the text.
		return scalar{kind: kindString, s: in}, nil
	}
	r := resolvePlain(in)
	rtag := tagStr
	switch r.kind {
	case kindNull:
		rtag = tagNull
	case kindBool:
		rtag = tagBool
	case kindInt, kindUint:
		rtag = tagInt
	case kindFloat:
		rtag = tagFloat
	case kindString:
		if c := firstByte(in); (c >= '0' && c <= '9' || c == '+' || c == '-') && tag == tagTimestamp && isTimestamp(in) {
			return scalar{kind: kindString, s: in}, nil
		}
	}
	if rtag == tag {
		return r, nil
	}
	if tag == tagFloat && rtag == tagInt {
		switch r.kind {
		case kindInt:
			if r.s != "" {
				i, _ := strconv.ParseInt(r.s, 10, 64)
				return scalar{kind: kindFloat, f: float64(i)}, nil
			}
			return scalar{kind: kindFloat, f: float64(r.i)}, nil
		case kindUint:
			// yaml.v2 converts only int and int64, not uint64.
		}
	}
	return scalar{}, fmt.Errorf("cannot decode %s %q as a %s", rtag, in, tag)
}

func firstByte(s string) byte {
	if s == "" {
		return 0
	}
	return s[0]
}

// jsonSafeString replaces each invalid UTF-8 byte with U+FFFD, as
// encoding/json does when sigs.k8s.io/yaml marshals a !!binary value.
func jsonSafeString(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size == 1 {
			sb.WriteRune(utf8.RuneError)
		} else {
			sb.Write(b[:size])
		}
		b = b[size:]
	}
	return sb.String()
}

// scalarValue is the OPA value of a resolved scalar. NaN and infinities have
// no JSON form: sigs.k8s.io/yaml fails on them, and so does this.
func scalarValue(r scalar) (ast.Value, error) {
	switch r.kind {
	case kindNull:
		return ast.InternedNullValue, nil
	case kindBool:
		return ast.Boolean(r.b), nil
	case kindInt:
		if r.s != "" {
			return ast.Number(r.s), nil
		}
		return ast.Number(strconv.FormatInt(r.i, 10)), nil
	case kindUint:
		return ast.Number(strconv.FormatUint(r.u, 10)), nil
	case kindFloat:
		if math.IsNaN(r.f) || math.IsInf(r.f, 0) {
			return nil, fmt.Errorf("%v cannot be represented in JSON", r.f)
		}
		return ast.Number(jsonFloat(r.f)), nil
	}
	return ast.String(r.s), nil
}

// jsonFloat formats f exactly as encoding/json does.
func jsonFloat(f float64) string {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b := strconv.AppendFloat(make([]byte, 0, 24), f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return string(b)
}

// scalarKey is the JSON object key sigs.k8s.io/yaml makes of a scalar key:
// numbers and booleans become their text (floats at 32-bit precision, as it
// does), null is refused.
func scalarKey(r scalar) (string, error) {
	switch r.kind {
	case kindString:
		return r.s, nil
	case kindBool:
		if r.b {
			return "true", nil
		}
		return "false", nil
	case kindInt:
		if r.s != "" {
			return r.s, nil
		}
		return strconv.FormatInt(r.i, 10), nil
	case kindFloat:
		switch s := strconv.FormatFloat(r.f, 'g', -1, 32); s {
		case "+Inf":
			return ".inf", nil
		case "-Inf":
			return "-.inf", nil
		case "NaN":
			return ".nan", nil
		default:
			return s, nil
		}
	case kindNull:
		return "", fmt.Errorf("null is not a valid object key")
	}
	return "", fmt.Errorf("integer %d is too large for an object key", r.u)
}

// timestampFormats are yaml.v2's allowedTimestampFormats.
var timestampFormats = [...]string{
	"2006-1-2T15:4:5.999999999Z07:00",
	"2006-1-2t15:4:5.999999999Z07:00",
	"2006-1-2 15:4:5.999999999",
	"2006-1-2",
}

// isTimestamp is yaml.v2's parseTimestamp, needed only to honour an explicit
// !!timestamp tag: the value itself stays the source text.
func isTimestamp(s string) bool {
	i := 0
	for ; i < len(s); i++ {
		if c := s[i]; c < '0' || c > '9' {
			break
		}
	}
	if i != 4 || i == len(s) || s[i] != '-' {
		return false
	}
	for _, format := range timestampFormats {
		if _, err := time.Parse(format, s); err == nil {
			return true
		}
	}
	return false
}

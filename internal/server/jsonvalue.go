package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sync"
	"unicode/utf8"

	"github.com/open-policy-agent/opa/v1/ast"
)

// parseJSONValue reads one JSON document straight into an OPA value: one
// pass over the bytes, no map[string]any in between, no YAML. It is the
// admission path's decoder (an AdmissionReview is decoded once, and its
// object is the policies' input as it stands). Strings that need
// unescaping or are not valid UTF-8 go through encoding/json, so they come
// out as encoding/json would have them; numbers keep their text, as
// ast.Number does. maxDepth bounds nesting, as the manifest loader does.
//
// keep, when not nil, says which keys of the top object to convert; the
// others are checked for syntax and skipped. A key mapped to nil is
// converted whole, one mapped to a keep is filtered by it in turn.
func parseJSONValue(data []byte, maxDepth int, keep jsonKeep) (ast.Value, error) {
	st := jsonStacks.Get().(*parserStacks)
	defer st.put()
	p := jsonParser{data: data, maxDepth: maxDepth, items: st.items[:0], elems: st.elems[:0]}
	defer func() { st.items, st.elems = p.items, p.elems }()
	p.space()
	v, err := p.value(0, keep)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.data) {
		return nil, p.errorf("data after the JSON value")
	}
	return v, nil
}

// parserStacks are a parser's item and element stacks, kept between
// reviews: objects and arrays copy what they keep out of them, so only the
// stacks' growth is saved, about a kilobyte a review.
type parserStacks struct {
	items [][2]*ast.Term
	elems []*ast.Term
}

var jsonStacks = sync.Pool{New: func() any { return new(parserStacks) }}

// put returns the stacks to the pool, cleared so that the pool does not
// keep the last review's terms alive, unless a huge review grew them.
func (st *parserStacks) put() {
	if cap(st.items) > 4096 || cap(st.elems) > 4096 {
		return
	}
	clear(st.items[:cap(st.items)])
	clear(st.elems[:cap(st.elems)])
	jsonStacks.Put(st)
}

// jsonKeep is a filter of object keys for parseJSONValue.
type jsonKeep map[string]jsonKeep

type jsonParser struct {
	data     []byte
	i        int
	maxDepth int
	terms    []ast.Term     // allocated in blocks, handed out one by one
	items    [][2]*ast.Term // a stack shared by the objects being read
	elems    []*ast.Term    // and one by the arrays
}

// term wraps v in a term from the current block: one allocation for
// termBlock terms instead of one each.
func (p *jsonParser) term(v ast.Value) *ast.Term {
	if len(p.terms) == 0 {
		p.terms = make([]ast.Term, termBlock)
	}
	t := &p.terms[0]
	p.terms = p.terms[1:]
	t.Value = v
	return t
}

const termBlock = 64

func (p *jsonParser) errorf(format string, args ...any) error {
	return fmt.Errorf("offset %d: %s", p.i, fmt.Sprintf(format, args...))
}

func (p *jsonParser) space() {
	for p.i < len(p.data) {
		switch p.data[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

var errJSONEnd = errors.New("unexpected end of JSON input")

func (p *jsonParser) value(depth int, keep jsonKeep) (ast.Value, error) {
	if p.i >= len(p.data) {
		return nil, errJSONEnd
	}
	switch c := p.data[p.i]; {
	case c == '{':
		return p.object(depth+1, keep)
	case c == '[':
		return p.array(depth + 1)
	case c == '"':
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		return ast.String(s), nil
	case c == 't':
		return p.literal("true", ast.Boolean(true))
	case c == 'f':
		return p.literal("false", ast.Boolean(false))
	case c == 'n':
		return p.literal("null", ast.Null{})
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	default:
		return nil, p.errorf("invalid character %q looking for a value", c)
	}
}

// valueTerm is the value at p.i as a term of an object or array. Common
// strings (sharedTerms), booleans and null are shared terms, as common
// keys are: no string, no term and no interface box to allocate. Nothing
// changes an input term once it is built, so sharing them is safe.
func (p *jsonParser) valueTerm(depth int, keep jsonKeep) (*ast.Term, error) {
	if p.i < len(p.data) {
		switch p.data[p.i] {
		case '"':
			return p.stringTerm()
		case 't':
			if _, err := p.literal("true", nil); err != nil {
				return nil, err
			}
			return ast.InternedTerm(true), nil
		case 'f':
			if _, err := p.literal("false", nil); err != nil {
				return nil, err
			}
			return ast.InternedTerm(false), nil
		case 'n':
			if _, err := p.literal("null", nil); err != nil {
				return nil, err
			}
			return ast.InternedNullTerm, nil
		}
	}
	v, err := p.value(depth, keep)
	if err != nil {
		return nil, err
	}
	return p.term(v), nil
}

func (p *jsonParser) literal(word string, v ast.Value) (ast.Value, error) {
	if len(p.data)-p.i < len(word) || string(p.data[p.i:p.i+len(word)]) != word {
		return nil, p.errorf("invalid literal, want %s", word)
	}
	p.i += len(word)
	return v, nil
}

func (p *jsonParser) object(depth int, keep jsonKeep) (ast.Value, error) {
	if depth > p.maxDepth {
		return nil, p.errorf("nested deeper than %d levels", p.maxDepth)
	}
	p.i++ // {
	mark := len(p.items)
	defer func() { p.items = p.items[:mark] }()
	p.space()
	if p.i < len(p.data) && p.data[p.i] == '}' {
		p.i++
		return ast.NewObject(), nil
	}
	for {
		p.space()
		if p.i >= len(p.data) {
			return nil, errJSONEnd
		}
		if p.data[p.i] != '"' {
			return nil, p.errorf("invalid character %q looking for an object key", p.data[p.i])
		}
		kt, err := p.stringTerm()
		if err != nil {
			return nil, err
		}
		p.space()
		if p.i >= len(p.data) {
			return nil, errJSONEnd
		}
		if p.data[p.i] != ':' {
			return nil, p.errorf("invalid character %q after an object key", p.data[p.i])
		}
		p.i++
		p.space()
		var sub jsonKeep
		if keep != nil {
			var ok bool
			if sub, ok = keep[string(kt.Value.(ast.String))]; !ok {
				if err := p.skip(depth); err != nil {
					return nil, err
				}
				goto next
			}
		}
		{
			vt, err := p.valueTerm(depth, sub)
			if err != nil {
				return nil, err
			}
			p.items = append(p.items, [2]*ast.Term{kt, vt})
		}
	next:
		p.space()
		if p.i >= len(p.data) {
			return nil, errJSONEnd
		}
		switch p.data[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return newObject(p.items[mark:]), nil
		default:
			return nil, p.errorf("invalid character %q after an object value", p.data[p.i])
		}
	}
}

func (p *jsonParser) array(depth int) (ast.Value, error) {
	if depth > p.maxDepth {
		return nil, p.errorf("nested deeper than %d levels", p.maxDepth)
	}
	p.i++ // [
	mark := len(p.elems)
	defer func() { p.elems = p.elems[:mark] }()
	p.space()
	if p.i < len(p.data) && p.data[p.i] == ']' {
		p.i++
		return ast.NewArray(), nil
	}
	for {
		p.space()
		vt, err := p.valueTerm(depth, nil)
		if err != nil {
			return nil, err
		}
		p.elems = append(p.elems, vt)
		p.space()
		if p.i >= len(p.data) {
			return nil, errJSONEnd
		}
		switch p.data[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			// NewArray keeps the slice it is given: a copy of the
			// stack's top.
			return ast.NewArray(slices.Clone(p.elems[mark:])...), nil
		default:
			return nil, p.errorf("invalid character %q after an array element", p.data[p.i])
		}
	}
}

// str reads a string at p.data[p.i] == '"'.
func (p *jsonParser) str() (string, error) {
	start, plain, err := p.scanString()
	if err != nil {
		return "", err
	}
	return p.stringAt(start, plain)
}

// scanString goes past one JSON string and says where it started and
// whether its bytes are its value (no escape, valid UTF-8), so a caller
// can look it up before anything is allocated.
func (p *jsonParser) scanString() (start int, plain bool, err error) {
	start = p.i
	p.i++
	plain = true
	for p.i < len(p.data) {
		c := p.data[p.i]
		switch {
		case c == '"':
			p.i++
			return start, plain, nil
		case c == '\\':
			plain = false
			p.i += 2
		case c < 0x20:
			return 0, false, p.errorf("invalid control character in a string")
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(p.data[p.i:])
			if r == utf8.RuneError && size == 1 {
				plain = false // encoding/json puts U+FFFD in its place
			}
			p.i += size
		default:
			p.i++
		}
	}
	return 0, false, errJSONEnd
}

// stringAt is the value of the string scanString just went past.
func (p *jsonParser) stringAt(start int, plain bool) (string, error) {
	if plain {
		return string(p.data[start+1 : p.i-1]), nil
	}
	var s string
	if err := json.Unmarshal(p.data[start:p.i], &s); err != nil {
		return "", fmt.Errorf("offset %d: %w", start, err)
	}
	return s, nil
}

// number reads a JSON number and keeps its text.
func (p *jsonParser) number() (ast.Value, error) {
	start := p.i
	if p.data[p.i] == '-' {
		p.i++
	}
	digits := func() int {
		n := 0
		for p.i < len(p.data) && p.data[p.i] >= '0' && p.data[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	switch {
	case p.i < len(p.data) && p.data[p.i] == '0':
		p.i++
	case digits() == 0:
		return nil, p.errorf("invalid number")
	}
	if p.i < len(p.data) && p.data[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return nil, p.errorf("invalid number")
		}
	}
	exponent := false
	if p.i < len(p.data) && (p.data[p.i] == 'e' || p.data[p.i] == 'E') {
		exponent = true
		p.i++
		if p.i < len(p.data) && (p.data[p.i] == '+' || p.data[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return nil, p.errorf("invalid number")
		}
	}
	text := p.data[start:p.i]
	// A long number costs OPA time that grows faster than its length at
	// every comparison (big.Float: a 6 MB number took 50 s), and no
	// Kubernetes field holds one: refused, as the limit below would not
	// catch a long number without an exponent.
	if len(text) > maxNumberText {
		p.i = start
		return nil, p.errorf("number of %d characters (at most %d)", len(text), maxNumberText)
	}
	if exponent && !numberInRange(text) {
		p.i = start
		return nil, p.errorf("number out of range (its exponent is beyond what OPA evaluates)")
	}
	return ast.Number(text), nil
}

// maxNumberExp is OPA's limit on a number's binary exponent (ast's
// validateNumber, applied by ast.InterfaceToValue): beyond it OPA's
// comparisons panic ("1e1000000000" cannot be made a big.Float) or take
// time that grows with the exponent. Numbers read straight into OPA values
// must keep to it as those made by InterfaceToValue do.
const maxNumberExp = 1e5

// maxNumberText is the longest number read. Without an exponent, such a
// number is always within maxNumberExp (10^1000 is about 2^3322).
const maxNumberText = 1000

// numberInRange says whether a number with an exponent is within OPA's
// limit, as its validateNumber decides (the text is at most
// maxNumberText long, so parsing it is cheap).
func numberInRange(s []byte) bool {
	f, ok := new(big.Float).SetString(string(s))
	if !ok || f.IsInf() {
		return false
	}
	exp := f.MantExp(nil)
	return exp <= maxNumberExp && exp >= -maxNumberExp
}

// stringTerm reads a string (an object key or a value) as a term. The
// strings Kubernetes objects use over and over are shared terms
// (sharedTerms): no string and no term to allocate.
func (p *jsonParser) stringTerm() (*ast.Term, error) {
	start, plain, err := p.scanString()
	if err != nil {
		return nil, err
	}
	if plain {
		if t, ok := sharedTerms[string(p.data[start+1:p.i-1])]; ok {
			return t, nil
		}
	}
	s, err := p.stringAt(start, plain)
	if err != nil {
		return nil, err
	}
	return p.term(ast.String(s)), nil
}

// skip checks the syntax of one value and goes past it, converting
// nothing.
func (p *jsonParser) skip(depth int) error {
	if p.i >= len(p.data) {
		return errJSONEnd
	}
	switch c := p.data[p.i]; {
	case c == '{' || c == '[':
		if depth+1 > p.maxDepth {
			return p.errorf("nested deeper than %d levels", p.maxDepth)
		}
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		p.i++
		p.space()
		if p.i < len(p.data) && p.data[p.i] == closing {
			p.i++
			return nil
		}
		for {
			p.space()
			if c == '{' {
				if p.i >= len(p.data) || p.data[p.i] != '"' {
					return p.errorf("want an object key")
				}
				if err := p.skipString(); err != nil {
					return err
				}
				p.space()
				if p.i >= len(p.data) || p.data[p.i] != ':' {
					return p.errorf("want ':' after an object key")
				}
				p.i++
				p.space()
			}
			if err := p.skip(depth + 1); err != nil {
				return err
			}
			p.space()
			if p.i >= len(p.data) {
				return errJSONEnd
			}
			switch p.data[p.i] {
			case ',':
				p.i++
			case closing:
				p.i++
				return nil
			default:
				return p.errorf("invalid character %q after a value", p.data[p.i])
			}
		}
	case c == '"':
		return p.skipString()
	default:
		_, err := p.value(depth, nil)
		return err
	}
}

// skipString goes past one string, checking its escapes, without
// allocating one when it has none.
func (p *jsonParser) skipString() error {
	start, plain, err := p.scanString()
	if err == nil && !plain {
		_, err = p.stringAt(start, plain)
	}
	return err
}

// sharedTerms are shared terms for common keys and values of Kubernetes
// objects and AdmissionReviews.
var sharedTerms = func() map[string]*ast.Term {
	m := map[string]*ast.Term{}
	for _, k := range []string{
		"apiVersion", "kind", "metadata", "name", "namespace", "labels", "annotations", "uid", "spec", "status",
		"generateName", "resourceVersion", "generation", "creationTimestamp", "ownerReferences", "finalizers", "managedFields",
		"replicas", "selector", "matchLabels", "matchExpressions", "template", "strategy", "type", "rollingUpdate",
		"maxUnavailable", "maxSurge", "containers", "initContainers", "ephemeralContainers", "image", "imagePullPolicy",
		"command", "args", "env", "value", "valueFrom", "envFrom", "ports", "containerPort", "protocol", "port", "targetPort",
		"resources", "requests", "limits", "cpu", "memory", "livenessProbe", "readinessProbe", "startupProbe", "httpGet",
		"path", "tcpSocket", "exec", "periodSeconds", "initialDelaySeconds", "timeoutSeconds", "failureThreshold",
		"securityContext", "runAsNonRoot", "runAsUser", "runAsGroup", "fsGroup", "privileged", "allowPrivilegeEscalation",
		"readOnlyRootFilesystem", "capabilities", "drop", "add", "seccompProfile", "volumes", "volumeMounts", "mountPath",
		"readOnly", "configMap", "secret", "secretName", "emptyDir", "hostPath", "persistentVolumeClaim", "claimName",
		"serviceAccountName", "automountServiceAccountToken", "hostNetwork", "hostPID", "hostIPC", "nodeSelector",
		"tolerations", "affinity", "restartPolicy", "terminationGracePeriodSeconds", "dnsPolicy", "schedulerName",
		"terminationMessagePath", "terminationMessagePolicy", "priorityClassName", "topologySpreadConstraints",
		"key", "operator", "values", "effect",
		// Values: the review's own, API groups and versions, kinds, and
		// the defaults the API server fills in.
		"", "AdmissionReview", "admission.k8s.io/v1", "CREATE", "UPDATE", "DELETE", "CONNECT", "CreateOptions",
		"UpdateOptions", "DeleteOptions", "meta.k8s.io/v1", "system:authenticated", "system:serviceaccounts",
		"v1", "apps", "apps/v1", "batch", "batch/v1", "networking.k8s.io", "networking.k8s.io/v1",
		"rbac.authorization.k8s.io", "rbac.authorization.k8s.io/v1", "policy", "policy/v1",
		"Pod", "pods", "Deployment", "deployments", "StatefulSet", "statefulsets", "DaemonSet", "daemonsets",
		"ReplicaSet", "replicasets", "Job", "jobs", "CronJob", "cronjobs", "Service", "services", "ConfigMap",
		"configmaps", "Secret", "secrets", "Namespace", "namespaces", "Ingress", "ingresses", "ServiceAccount",
		"serviceaccounts", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "NetworkPolicy",
		"TCP", "UDP", "http", "https", "ALL", "NET_ADMIN", "SYS_ADMIN", "RuntimeDefault", "Unconfined", "Localhost",
		"IfNotPresent", "Always", "Never", "OnFailure", "ClusterFirst", "Default", "default", "default-scheduler",
		"RollingUpdate", "Recreate", "OnDelete", "25%", "File", "FallbackToLogsOnError", "/dev/termination-log",
		"ClusterIP", "NodePort", "LoadBalancer", "Exists", "Equal", "In", "NotIn", "NoSchedule", "NoExecute",
		"Strict", "Ignore", "Fail", "true", "false",
	} {
		m[k] = ast.StringTerm(k)
	}
	return m
}()

// newObject makes the object; of duplicate keys the last one wins, as in
// encoding/json (ast.NewObject would keep both).
func newObject(items [][2]*ast.Term) ast.Object {
	dup := false
	if len(items) <= 16 {
		for i := 1; i < len(items) && !dup; i++ {
			for j := range i {
				if items[i][0].Value.(ast.String) == items[j][0].Value.(ast.String) {
					dup = true
					break
				}
			}
		}
	} else {
		seen := make(map[ast.String]struct{}, len(items))
		for _, it := range items {
			k := it[0].Value.(ast.String)
			if _, ok := seen[k]; ok {
				dup = true
				break
			}
			seen[k] = struct{}{}
		}
	}
	if !dup {
		return ast.NewObject(items...)
	}
	obj := ast.NewObjectWithCapacity(len(items))
	for _, it := range items {
		obj.Insert(it[0], it[1])
	}
	return obj
}

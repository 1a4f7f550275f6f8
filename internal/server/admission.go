package server

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/open-policy-agent/opa/v1/ast"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/continuums/attest/internal/decision"
	"github.com/continuums/attest/internal/engine"
	"github.com/continuums/attest/internal/finding"
	"github.com/continuums/attest/internal/manifest"
	"github.com/continuums/attest/internal/policy"
)

// reviewAPIVersion is the only AdmissionReview version served: the
// ValidatingWebhookConfiguration in deploy/ asks for it alone
// (admissionReviewVersions: ["v1"]).
const reviewAPIVersion = "admission.k8s.io/v1"

// DecodeReview reads an AdmissionReview request into Kubernetes' own
// types and checks what the handler relies on. The error says what is
// wrong in words a person sending a hand-made review can act on. The
// handler decodes with decodeAdmission (one pass, straight to OPA
// values); DecodeReview is the reference it is tested against.
func DecodeReview(data []byte) (*admissionv1.AdmissionReview, error) {
	var rv admissionv1.AdmissionReview
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&rv); err != nil {
		return nil, fmt.Errorf("malformed AdmissionReview: %w", err)
	}
	if dec.More() {
		return nil, errors.New("malformed AdmissionReview: data after the JSON object")
	}
	if rv.APIVersion != reviewAPIVersion || rv.Kind != "AdmissionReview" {
		return nil, fmt.Errorf("want apiVersion %s, kind AdmissionReview; got apiVersion %q, kind %q", reviewAPIVersion, rv.APIVersion, rv.Kind)
	}
	req := rv.Request
	if req == nil {
		return nil, errors.New("AdmissionReview has no request")
	}
	if req.UID == "" {
		return nil, errors.New("AdmissionReview request has no uid")
	}
	switch req.Operation {
	case admissionv1.Create, admissionv1.Update, admissionv1.Connect:
		if len(req.Object.Raw) == 0 {
			return nil, fmt.Errorf("AdmissionReview %s request has no object", req.Operation)
		}
	case admissionv1.Delete:
		// Kubernetes sends the object being deleted as oldObject and no
		// object; a DELETE of a collection may send neither.
	default:
		return nil, fmt.Errorf("AdmissionReview request has unknown operation %q", req.Operation)
	}
	return &rv, nil
}

// admissionRequest is what the handler uses of an AdmissionReview's
// request, read by decodeAdmission.
type admissionRequest struct {
	uid       string
	operation string
	kind      string // request.kind.kind
	namespace string
	username  string
	userUID   string
	groups    []string
	dryRun    bool
	object    ast.Value // nil when absent or null
	oldObject ast.Value // nil when absent or null
}

// decodeAdmission is the handler's decoder: the review is read once,
// straight into OPA values (parseJSONValue), and its object is the
// policies' input as it stands: no second decode, no YAML. It accepts
// and refuses as DecodeReview does on what the handler relies on
// (TestDecodeAdmissionAgrees), with the same messages.
func decodeAdmission(data []byte, maxDepth int) (*admissionRequest, error) {
	v, err := parseJSONValue(data, maxDepth, reviewKeep)
	if err != nil {
		return nil, fmt.Errorf("malformed AdmissionReview: %w", err)
	}
	rv, ok := v.(ast.Object)
	if !ok {
		return nil, fmt.Errorf("malformed AdmissionReview: a JSON object is wanted, not %s", ast.ValueName(v))
	}
	apiVersion, kind := astString(rv, "apiVersion"), astString(rv, "kind")
	if apiVersion != reviewAPIVersion || kind != "AdmissionReview" {
		return nil, fmt.Errorf("want apiVersion %s, kind AdmissionReview; got apiVersion %q, kind %q", reviewAPIVersion, apiVersion, kind)
	}
	req, ok := astField(rv, "request").(ast.Object)
	if !ok {
		return nil, errors.New("AdmissionReview has no request")
	}
	r := &admissionRequest{
		uid:       astString(req, "uid"),
		operation: astString(req, "operation"),
		namespace: astString(req, "namespace"),
		object:    nonNull(astField(req, "object")),
		oldObject: nonNull(astField(req, "oldObject")),
	}
	if r.uid == "" {
		return nil, errors.New("AdmissionReview request has no uid")
	}
	if k, ok := astField(req, "kind").(ast.Object); ok {
		r.kind = astString(k, "kind")
	}
	if ui, ok := astField(req, "userInfo").(ast.Object); ok {
		r.username, r.userUID = astString(ui, "username"), astString(ui, "uid")
		if gs, ok := astField(ui, "groups").(*ast.Array); ok {
			r.groups = make([]string, 0, gs.Len())
			for i := range gs.Len() {
				if g, ok := gs.Elem(i).Value.(ast.String); ok {
					r.groups = append(r.groups, string(g))
				}
			}
		}
	}
	if b, ok := astField(req, "dryRun").(ast.Boolean); ok {
		r.dryRun = bool(b)
	}
	switch admissionv1.Operation(r.operation) {
	case admissionv1.Create, admissionv1.Update, admissionv1.Connect:
		if r.object == nil {
			return nil, fmt.Errorf("AdmissionReview %s request has no object", r.operation)
		}
	case admissionv1.Delete:
		// Kubernetes sends the object being deleted as oldObject and no
		// object; a DELETE of a collection may send neither.
	default:
		return nil, fmt.Errorf("AdmissionReview request has unknown operation %q", r.operation)
	}
	return r, nil
}

// reviewKeep is what decodeAdmission converts of a review; the rest
// (resource, requestKind, options, userInfo.extra...) is only checked.
var reviewKeep = jsonKeep{"apiVersion": nil, "kind": nil, "request": jsonKeep{
	"uid": nil, "operation": nil, "namespace": nil, "kind": nil, "dryRun": nil, "object": nil, "oldObject": nil,
	"userInfo": jsonKeep{"username": nil, "uid": nil, "groups": nil},
}}

// Keys of the AdmissionReview, made once.
var reviewKeys = map[string]*ast.Term{}

func init() {
	for _, k := range []string{"apiVersion", "kind", "request", "uid", "operation", "namespace", "object", "oldObject",
		"userInfo", "username", "groups", "dryRun", "metadata"} {
		reviewKeys[k] = ast.StringTerm(k)
	}
}

func astField(obj ast.Object, key string) ast.Value {
	kt := reviewKeys[key]
	if kt == nil {
		kt = ast.StringTerm(key)
	}
	if t := obj.Get(kt); t != nil {
		return t.Value
	}
	return nil
}

func astString(obj ast.Object, key string) string {
	s, _ := astField(obj, key).(ast.String)
	return string(s)
}

func nonNull(v ast.Value) ast.Value {
	if _, ok := v.(ast.Null); ok {
		return nil
	}
	return v
}

// readBody reads at most limit bytes of body; the status says why it
// failed.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, int, error) {
	var buf bytes.Buffer
	code, err := readBodyInto(w, r, &buf, limit)
	return buf.Bytes(), code, err
}

// bodyError is the answer to a body that could not be read. A network
// error itself names both ends' addresses, which the client need not be
// told.
func bodyError(err error, limit int64) (int, error) {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge, fmt.Errorf("request body over the %d byte limit", limit)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return http.StatusRequestTimeout, errors.New("request body not received within the read timeout")
	}
	return http.StatusBadRequest, errors.New("request body could not be read")
}

// bodyBuffers are admission request bodies' buffers, reused.
var bodyBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// putBodyBuffer returns a buffer to the pool, unless a huge review made
// it too big to keep around.
func putBodyBuffer(b *bytes.Buffer) {
	if b.Cap() <= 1<<20 {
		b.Reset()
		bodyBuffers.Put(b)
	}
}

// maxPrealloc is the most of a declared Content-Length allocated before
// the body arrives.
const maxPrealloc = 64 << 10

// readBodyInto is readBody into a buffer of the caller's.
func readBodyInto(w http.ResponseWriter, r *http.Request, buf *bytes.Buffer, limit int64) (int, error) {
	if r.ContentLength > 0 && r.ContentLength <= limit {
		// Not more than a typical review ahead of the bytes: a client that
		// announces 6 MiB and sends one byte must not cost 6 MiB.
		buf.Grow(int(min(r.ContentLength, maxPrealloc)) + bytes.MinRead)
	}
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit)); err != nil {
		return bodyError(err, limit)
	}
	return 0, nil
}

func writeError(w http.ResponseWriter, code int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
}

// writeJSON encodes into a pooled buffer rather than with json.Marshal,
// whose result is a fresh copy of the encoding: one allocation fewer per
// answer. Encode ends the document with a newline.
func writeJSON(w http.ResponseWriter, v any) {
	buf := bodyBuffers.Get().(*bytes.Buffer)
	defer putBodyBuffer(buf)
	if err := json.NewEncoder(buf).Encode(v); err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(buf.Bytes())
}

func (s *Server) handleAdmission(w http.ResponseWriter, r *http.Request) {
	snap := s.state.Load()
	if snap == nil {
		writeError(w, http.StatusServiceUnavailable, errNotReady)
		return
	}
	// kube-apiserver sends exactly "application/json": no parse for it.
	if ct := r.Header.Get("Content-Type"); ct != "" && ct != "application/json" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			writeError(w, http.StatusUnsupportedMediaType, fmt.Errorf("content type %q: an AdmissionReview is application/json", ct))
			return
		}
	}
	if ce := r.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		writeError(w, http.StatusUnsupportedMediaType, fmt.Errorf("content encoding %q: send the AdmissionReview uncompressed", ce))
		return
	}
	buf := bodyBuffers.Get().(*bytes.Buffer)
	defer putBodyBuffer(buf)
	code, err := readBodyInto(w, r, buf, s.o.bodyLimit)
	if err != nil {
		writeError(w, code, err)
		return
	}
	// The decoded values copy what they keep: the buffer goes back to
	// the pool when the request is done.
	req, err := decodeAdmission(buf.Bytes(), s.maxDepth(snap))
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), evalDeadline(r, s.o.evalTimeout))
	defer cancel()
	resp := s.review(ctx, snap, req)
	out := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: reviewAPIVersion, Kind: "AdmissionReview"},
		Response: resp,
	}
	writeJSON(w, &out)
}

// evalDeadline is the time a review may take: --eval-timeout, or less when
// kube-apiserver's ?timeout= (what is left of its webhook timeout,
// rounded up to a second) says so. An answer after the API server gave
// up is never read: failurePolicy decides instead, and with Ignore the
// object goes in unjudged. A fail-closed answer in time is better; a
// second and a tenth is kept for kube's rounding and for answering.
func evalDeadline(r *http.Request, evalTimeout time.Duration) time.Duration {
	if r.URL.RawQuery == "" {
		return evalTimeout
	}
	t, err := time.ParseDuration(r.URL.Query().Get("timeout"))
	if err != nil || t <= 0 {
		return evalTimeout
	}
	// client-go rounds what is left up to a whole second, so up to a
	// second of it may already be gone; 100 ms more is kept for the
	// answer. Below that, half of what it says.
	if t > 2*time.Second {
		return min(evalTimeout, t-time.Second-100*time.Millisecond)
	}
	return min(evalTimeout, t/2)
}

// decisionRecord is one line of the decision log: who asked what, and
// what attest answered. Never the object, the user's extra attributes
// or anything else that might carry a secret.
type decisionRecord struct {
	Policy      string `json:"policy"`
	Rule        string `json:"rule"`
	Severity    string `json:"severity"`
	Enforcement string `json:"enforcement"`
	Message     string `json:"message"`
	Exemption   string `json:"exemption,omitempty"`
	Emergency   bool   `json:"emergency,omitempty"` // exempted by a break-glass override
}

// emergencyWarning is the warning for a finding a break-glass override
// let through.
func emergencyWarning(f *finding.Finding) string {
	w := "attest: EMERGENCY OVERRIDE " + cmp.Or(f.Exemption.ID, f.Exemption.Source) + " lets through: [" + f.Policy + "] " + f.Message
	if f.Exemption.ApprovedBy != "" {
		w += " (approved by " + f.Exemption.ApprovedBy + ")"
	}
	return w
}

// review decides one admission request.
func (s *Server) review(ctx context.Context, snap *Snapshot, req *admissionRequest) *admissionv1.AdmissionResponse {
	start := time.Now()
	resp := &admissionv1.AdmissionResponse{UID: types.UID(req.uid), Allowed: true}
	op := req.operation
	p := snap.Project

	obj := req.object
	if op == string(admissionv1.Delete) {
		// The object being deleted is the oldObject.
		obj = req.oldObject
	}
	if obj == nil {
		// Nothing to judge (a collection DELETE): allowed, and said so.
		s.metrics.Admission(op, "allowed")
		return resp
	}
	res, err := s.resource(req, obj)
	if err != nil {
		s.metrics.Admission(op, "error")
		resp.Allowed = false
		resp.Result = &metav1.Status{Status: metav1.StatusFailure, Code: http.StatusBadRequest,
			Reason: metav1.StatusReasonBadRequest, Message: "attest: " + err.Error()}
		return resp
	}
	call := engine.Call{Operation: op, UserInfo: userInfo(req)}
	if op != string(admissionv1.Delete) && req.oldObject != nil {
		call.OldObject = req.oldObject
	}
	evalStart := time.Now()
	fs := p.Engine.Evaluate(ctx, res, call)
	s.observeEval(snap.engines, time.Since(evalStart))
	notes, _ := p.Exempter.Apply(res, fs)
	// Warnings the requester must not miss (exemptions not honoured,
	// emergency overrides) go before the findings' own: kube-apiserver
	// keeps only the first ones when there are many (admissionWarnings).
	var urgent, warnings []string
	for _, n := range notes {
		// An exemption that was not honoured (no approver, expired) is
		// what the resource's owner needs to hear about.
		s.log.LogAttrs(ctx, slog.LevelWarn, "exemption not honoured", slog.String("uid", req.uid),
			slog.String("resource", res.Ref().String()), slog.String("note", n.Message))
		urgent = append(urgent, "attest: "+n.Message)
	}
	s.metrics.RecordResource(snap.policies, fs)

	dopts := decision.Options{Threshold: p.Threshold, FailOnViolation: p.FailOnViolation}
	var denied, errs []string
	var causes []metav1.StatusCause
	var logged []decisionRecord
	for i := range fs {
		f := &fs[i]
		rec := decisionRecord{Policy: f.Policy, Rule: f.Rule, Severity: f.Severity.String(), Enforcement: string(f.Enforcement), Message: f.Message}
		text := f.Message
		if f.Policy != "" {
			text = "[" + f.Policy + "] " + f.Message
		}
		switch {
		case f.Kind == finding.KindError:
			// A policy that could not be evaluated denies: failing closed
			// is what an enforcing webhook is for (docs/serve.md).
			errs = append(errs, text)
			causes = append(causes, metav1.StatusCause{Type: "PolicyError", Message: text, Field: f.Location.Field})
		case f.Exempted():
			rec.Exemption = f.Exemption.Source + ": " + f.Exemption.Reason
			if f.Exemption.Emergency {
				// A break-glass override is allowed, and said out loud to
				// whoever deployed (kubectl prints warnings), as every
				// report of policy check does.
				rec.Emergency = true
				urgent = append(urgent, emergencyWarning(f))
			}
			s.log.LogAttrs(ctx, slog.LevelInfo, "finding exempted", slog.String("uid", req.uid), slog.String("resource", f.Resource.String()),
				slog.String("policy", f.Policy), slog.String("rule", f.Rule), slog.String("exemption", f.Exemption.Source), slog.Bool("emergency", f.Exemption.Emergency))
		case f.Enforcement == finding.EnforcementDryrun:
			s.log.LogAttrs(ctx, slog.LevelInfo, "dryrun finding", slog.String("uid", req.uid), slog.String("resource", f.Resource.String()),
				slog.String("policy", f.Policy), slog.String("rule", f.Rule), slog.String("message", f.Message))
		case decision.Fails(f, dopts) && dopts.FailOnViolation:
			denied = append(denied, text)
			causes = append(causes, metav1.StatusCause{Type: metav1.CauseType(f.Rule), Message: text, Field: f.Location.Field})
		default:
			warnings = append(warnings, text)
		}
		logged = append(logged, rec)
	}
	resp.Warnings = admissionWarnings(urgent, warnings)
	outcome := "allowed"
	switch {
	case len(errs) > 0 || len(denied) > 0:
		resp.Allowed = false
		outcome = "denied"
		reason := metav1.StatusReasonForbidden
		if len(errs) > 0 {
			outcome = "error"
		}
		resp.Result = &metav1.Status{
			Status:  metav1.StatusFailure,
			Code:    http.StatusForbidden,
			Reason:  reason,
			Message: strings.Join(append(denied, errs...), "; "),
			Details: &metav1.StatusDetails{Name: res.Name, Kind: res.Kind, Causes: causes},
		}
	}
	s.metrics.Admission(op, outcome)
	if s.dlog != nil {
		s.dlog.LogAttrs(ctx, slog.LevelInfo, "admission decision",
			slog.String("uid", req.uid),
			slog.String("operation", op),
			slog.String("kind", req.kind),
			slog.String("namespace", req.namespace),
			slog.String("name", res.Name),
			slog.String("user", req.username),
			slog.Bool("dry_run", req.dryRun),
			slog.String("decision", outcome),
			slog.String("revision", snap.Revision),
			slog.Any("findings", logged),
			slog.Duration("duration", time.Since(start)))
	}
	return resp
}

// Kubernetes' limits on warnings (k8s.io/apiserver's warning recorder):
// past 4,096 runes in all, each warning is cut to 256 runes and those
// that still do not fit are dropped, in order; a warning with a control
// character is dropped whole (it cannot be an HTTP header).
const (
	warningsTotalRunes = 4096
	warningRunes       = 256
)

// admissionWarnings lists urgent, then other, as kube-apiserver will pass
// them on: control characters as spaces, and when they are too many, each
// cut to 256 runes, as many as fit, then a count of the rest.
func admissionWarnings(urgent, other []string) []string {
	all := other // both are the caller's own slices, rewritten in place
	if len(urgent) > 0 {
		all = slices.Concat(urgent, other)
	}
	if len(all) == 0 {
		return nil
	}
	// kube-apiserver passes each text once; so does attest, so the count
	// of what is left out counts what would have been shown.
	seen := make(map[string]bool, len(all))
	total := 0
	kept := all[:0]
	for _, w := range all {
		w = warningText(w)
		if seen[w] {
			continue
		}
		seen[w] = true
		kept = append(kept, w)
		total += utf8.RuneCountInString(w)
	}
	all = kept
	if total <= warningsTotalRunes {
		return all
	}
	const room = 128 // for the count of what is left out (about 90 runes)
	out := make([]string, 0, len(all))
	used := 0
	for i, w := range all {
		if utf8.RuneCountInString(w) > warningRunes {
			w = string([]rune(w)[:warningRunes-1]) + "…"
		}
		n := utf8.RuneCountInString(w)
		if used+n > warningsTotalRunes-room {
			out = append(out, fmt.Sprintf("attest: %d more warnings not shown (attest policy check or the decision log has them all)", len(all)-i))
			break
		}
		out = append(out, w)
		used += n
	}
	return out
}

// warningText replaces what kube-apiserver refuses in a warning (control
// characters, line breaks among them) with spaces.
func warningText(w string) string {
	if !strings.ContainsFunc(w, unicode.IsControl) {
		return w
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, w)
}

// resource makes the one resource under review of its object, decoded
// already (decodeAdmission): no second parse.
func (s *Server) resource(req *admissionRequest, obj ast.Value) (*manifest.Resource, error) {
	if _, ok := obj.(ast.Object); !ok {
		return nil, fmt.Errorf("object: want one Kubernetes object, got %s", ast.ValueName(obj))
	}
	r := manifest.FromValue("admission/"+req.uid, obj)
	if r == nil {
		return nil, errors.New("object: not a Kubernetes object (no apiVersion or kind)")
	}
	// On CREATE the object may not carry its namespace (it came in the
	// URL); policies and exemptions look at metadata.namespace.
	// Not for cluster-scoped kinds: for a Namespace's own UPDATE or DELETE
	// kube-apiserver sets request.namespace to its name.
	if r.Namespace == "" && req.namespace != "" && !engine.ClusterScoped(r.APIVersion, r.Kind) {
		r.Namespace = req.namespace
		if meta, ok := astField(obj.(ast.Object), "metadata").(ast.Object); ok {
			meta.Insert(ast.StringTerm("namespace"), ast.StringTerm(req.namespace))
		}
	}
	return r, nil
}

// userInfo is what policies may see of the requester: name, uid and
// groups. The extra attributes are left out; they can hold credentials'
// details nobody needs in a policy input.
func userInfo(req *admissionRequest) map[string]any {
	groups := make([]any, len(req.groups))
	for i, g := range req.groups {
		groups[i] = g
	}
	return map[string]any{"username": req.username, "uid": req.userUID, "groups": groups}
}

// engineKinds are the engines that evaluate every resource under these
// policies, in a fixed order: "opa" when there is an attest or conftest
// policy, "gatekeeper" when there is a ConstraintTemplate. The duration
// histogram is labelled with them whatever the findings, so a Gatekeeper
// evaluation that finds nothing is still counted as gatekeeper.
func engineKinds(pols []*policy.Policy) []string {
	var opa, gk bool
	for _, p := range pols {
		if p.Engine == "gatekeeper" {
			gk = true
		} else {
			opa = true
		}
	}
	var out []string
	if opa {
		out = append(out, "opa")
	}
	if gk {
		out = append(out, "gatekeeper")
	}
	return out
}

// observeEval records one resource's evaluation time once per engine kind
// that has policies. The engine runs both kinds in one pass, so a mixed
// set observes the same (whole) duration under both labels; with no
// policies at all it is observed as opa.
func (s *Server) observeEval(engines []string, d time.Duration) {
	if len(engines) == 0 {
		s.metrics.ObserveDuration("opa", d)
		return
	}
	for _, e := range engines {
		s.metrics.ObserveDuration(e, d)
	}
}

// maxDepth bounds the review's nesting: the loader's limit for the
// object, plus the two levels the review wraps it in.
func (s *Server) maxDepth(snap *Snapshot) int {
	return snap.Project.Loader.MaxDepth() + 2
}

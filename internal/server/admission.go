package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/continuums/attest/internal/decision"
	"github.com/continuums/attest/internal/engine"
	"github.com/continuums/attest/internal/finding"
	"github.com/continuums/attest/internal/manifest"
)

// reviewAPIVersion is the only AdmissionReview version served: the
// ValidatingWebhookConfiguration in deploy/ asks for it alone
// (admissionReviewVersions: ["v1"]).
const reviewAPIVersion = "admission.k8s.io/v1"

// DecodeReview reads an AdmissionReview request and checks what the
// handler relies on. The error says what is wrong in words a person
// sending a hand-made review can act on.
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

// readBody reads at most the body limit; the status says why it failed.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, int, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.o.bodyLimit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("request body over the %d byte limit", s.o.bodyLimit)
		}
		return nil, http.StatusBadRequest, fmt.Errorf("read request body: %w", err)
	}
	return body, 0, nil
}

func writeError(w http.ResponseWriter, code int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

func (s *Server) handleAdmission(w http.ResponseWriter, r *http.Request) {
	snap := s.state.Load()
	if snap == nil {
		writeError(w, http.StatusServiceUnavailable, errNotReady)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		writeError(w, http.StatusUnsupportedMediaType, fmt.Errorf("content type %q: an AdmissionReview is application/json", ct))
		return
	}
	body, code, err := s.readBody(w, r)
	if err != nil {
		writeError(w, code, err)
		return
	}
	rv, err := DecodeReview(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.o.evalTimeout)
	defer cancel()
	resp := s.review(ctx, snap, rv.Request)
	out := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: reviewAPIVersion, Kind: "AdmissionReview"},
		Response: resp,
	}
	writeJSON(w, &out)
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
}

// review decides one admission request.
func (s *Server) review(ctx context.Context, snap *Snapshot, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	start := time.Now()
	resp := &admissionv1.AdmissionResponse{UID: req.UID, Allowed: true}
	op := string(req.Operation)
	p := snap.Project

	raw := req.Object.Raw
	if req.Operation == admissionv1.Delete {
		// The object being deleted is the oldObject.
		raw = req.OldObject.Raw
	}
	if len(raw) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		// Nothing to judge (a collection DELETE): allowed, and said so.
		s.metrics.Admission(op, "allowed")
		return resp
	}
	res, err := s.resource(p.Loader, req, raw)
	if err != nil {
		s.metrics.Admission(op, "error")
		resp.Allowed = false
		resp.Result = &metav1.Status{Status: metav1.StatusFailure, Code: http.StatusBadRequest,
			Reason: metav1.StatusReasonBadRequest, Message: "attest: " + err.Error()}
		return resp
	}
	call := engine.Call{Operation: op, UserInfo: userInfo(req)}
	if req.Operation != admissionv1.Delete && len(req.OldObject.Raw) > 0 {
		if v, err := ast.ValueFromReader(bytes.NewReader(req.OldObject.Raw)); err == nil {
			call.OldObject = v
		}
	}
	evalStart := time.Now()
	fs := p.Engine.Evaluate(ctx, res, call)
	s.metrics.ObserveDuration(engineOf(fs), time.Since(evalStart))
	notes, _ := p.Exempter.Apply(res, fs)
	for _, n := range notes {
		// An exemption that was not honoured (no approver, expired) is
		// what the resource's owner needs to hear about.
		s.log.LogAttrs(ctx, slog.LevelWarn, "exemption not honoured", slog.String("uid", string(req.UID)),
			slog.String("resource", res.Ref().String()), slog.String("note", n.Message))
		resp.Warnings = append(resp.Warnings, "attest: "+n.Message)
	}
	s.metrics.RecordResource(snap.policies, fs)

	dopts := decision.Options{Threshold: p.Threshold, FailOnViolation: p.FailOnViolation}
	var denied, errs []string
	var causes []metav1.StatusCause
	var logged []decisionRecord
	for i := range fs {
		f := &fs[i]
		rec := decisionRecord{Policy: f.Policy, Rule: f.Rule, Severity: f.Severity.String(), Enforcement: string(f.Enforcement), Message: f.Message}
		text := "[" + f.Policy + "] " + f.Message
		switch {
		case f.Kind == finding.KindError:
			// A policy that could not be evaluated denies: failing closed
			// is what an enforcing webhook is for (docs/serve.md).
			errs = append(errs, text)
			causes = append(causes, metav1.StatusCause{Type: "PolicyError", Message: text, Field: f.Location.Field})
		case f.Exempted():
			rec.Exemption = f.Exemption.Source + ": " + f.Exemption.Reason
			s.log.LogAttrs(ctx, slog.LevelInfo, "finding exempted", slog.String("uid", string(req.UID)), slog.String("resource", f.Resource.String()),
				slog.String("policy", f.Policy), slog.String("rule", f.Rule), slog.String("exemption", f.Exemption.Source), slog.Bool("emergency", f.Exemption.Emergency))
		case f.Enforcement == finding.EnforcementDryrun:
			s.log.LogAttrs(ctx, slog.LevelInfo, "dryrun finding", slog.String("uid", string(req.UID)), slog.String("resource", f.Resource.String()),
				slog.String("policy", f.Policy), slog.String("rule", f.Rule), slog.String("message", f.Message))
		case decision.Fails(f, dopts) && dopts.FailOnViolation:
			denied = append(denied, text)
			causes = append(causes, metav1.StatusCause{Type: metav1.CauseType(f.Rule), Message: text, Field: f.Location.Field})
		default:
			resp.Warnings = append(resp.Warnings, text)
		}
		logged = append(logged, rec)
	}
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
			slog.String("uid", string(req.UID)),
			slog.String("operation", op),
			slog.String("kind", req.Kind.Kind),
			slog.String("namespace", req.Namespace),
			slog.String("name", res.Name),
			slog.String("user", req.UserInfo.Username),
			slog.Bool("dry_run", req.DryRun != nil && *req.DryRun),
			slog.String("decision", outcome),
			slog.String("revision", snap.Revision),
			slog.Any("findings", logged),
			slog.Duration("duration", time.Since(start)))
	}
	return resp
}

// resource parses the object Kubernetes sent into one resource.
func (s *Server) resource(l *manifest.Loader, req *admissionv1.AdmissionRequest, raw []byte) (*manifest.Resource, error) {
	name := "admission/" + string(req.UID)
	f := l.Parse(name, raw)
	if len(f.Errors) > 0 {
		return nil, fmt.Errorf("object: %s", f.Errors[0].Message)
	}
	if len(f.Resources) != 1 {
		return nil, fmt.Errorf("object: want one Kubernetes object, got %d", len(f.Resources))
	}
	r := f.Resources[0]
	// On CREATE the object may not carry its namespace (it came in the
	// URL); policies and exemptions look at metadata.namespace.
	if r.Namespace == "" && req.Namespace != "" {
		r.Namespace = req.Namespace
		if obj, ok := r.Value.(ast.Object); ok {
			if mt := obj.Get(ast.StringTerm("metadata")); mt != nil {
				if meta, ok := mt.Value.(ast.Object); ok {
					meta.Insert(ast.StringTerm("namespace"), ast.StringTerm(req.Namespace))
				}
			}
		}
	}
	return r, nil
}

// userInfo is what policies may see of the requester: name, uid and
// groups. The extra attributes are left out; they can hold credentials'
// details nobody needs in a policy input.
func userInfo(req *admissionv1.AdmissionRequest) map[string]any {
	groups := make([]any, len(req.UserInfo.Groups))
	for i, g := range req.UserInfo.Groups {
		groups[i] = g
	}
	return map[string]any{"username": req.UserInfo.Username, "uid": req.UserInfo.UID, "groups": groups}
}

// engineOf labels the duration: gatekeeper when Gatekeeper templates
// produced findings, opa otherwise.
func engineOf(fs []finding.Finding) string {
	for i := range fs {
		if fs[i].Engine == "gatekeeper" {
			return "gatekeeper"
		}
	}
	return "opa"
}

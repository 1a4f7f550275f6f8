package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/continuums/attest/internal/config"
	"github.com/continuums/attest/internal/governance"
	"github.com/continuums/attest/internal/store"
)

// maxGovBody bounds an exemption request's body: a few short strings.
const maxGovBody = 64 << 10

// ExemptionRequest is the body of POST /v1/exemptions and /v1/overrides.
// There is no requested_by: the requester is the authenticated identity.
type ExemptionRequest struct {
	Policy    string   `json:"policy"`
	Rule      string   `json:"rule,omitempty"`
	Resource  string   `json:"resource"`
	Reason    string   `json:"reason"`
	Duration  string   `json:"duration"`
	Approvers []string `json:"approvers"`
}

// Decision is the body of POST /v1/exemptions/{id}/approve|reject|revoke
// (optional). There is no approver: it is the authenticated identity.
type Decision struct {
	Comment string `json:"comment,omitempty"`
}

// ExemptionView is an exemption as the endpoints return it: the stored
// record (as `attest policy exemptions list --format json` prints it)
// and what it still needs.
type ExemptionView struct {
	store.Exemption
	ApprovalsNeeded int      `json:"approvals_needed"`
	RequiredTeams   []string `json:"required_teams,omitempty"`
}

// VerifyView is GET /v1/audit/verify's answer.
type VerifyView struct {
	OK         bool     `json:"ok"`
	Entries    int      `json:"entries"`
	Exemptions int      `json:"exemptions"`
	Chain      string   `json:"chain_error,omitempty"`
	Mismatches []string `json:"mismatches,omitempty"`
}

// DecodeExemptionRequest reads a request body strictly: one JSON object,
// known fields only, nothing after it.
func DecodeExemptionRequest(data []byte) (ExemptionRequest, error) {
	var r ExemptionRequest
	if err := decodeStrict(data, &r, false); err != nil {
		return ExemptionRequest{}, fmt.Errorf("exemption request: %w", err)
	}
	return r, nil
}

// DecodeDecision reads a decision body; an empty body is no comment.
func DecodeDecision(data []byte) (Decision, error) {
	var d Decision
	if err := decodeStrict(data, &d, true); err != nil {
		return Decision{}, fmt.Errorf("decision: %w", err)
	}
	return d, nil
}

func decodeStrict(data []byte, v any, emptyOK bool) error {
	if len(bytes.TrimSpace(data)) == 0 {
		if emptyOK {
			return nil
		}
		return errors.New("empty body: want a JSON object")
	}
	if t := bytes.TrimSpace(data); t[0] != '{' {
		return errors.New("want a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		msg := err.Error()
		if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
			msg = "unknown field " + f
			if f == `"requested_by"` || f == `"approver"` || f == `"by"` {
				msg += " (the authenticated identity is who asks or decides)"
			}
		}
		return errors.New(msg)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON object")
	}
	return nil
}

// govRequest is what every governance handler gets: the caller, the
// workflow with the governance rules and policy names in use.
type govRequest struct {
	actor governance.Actor
	svc   *governance.Service
}

type govHandler func(w http.ResponseWriter, r *http.Request, g govRequest)

// governed authenticates and builds the workflow for h. The rules come
// from the policies in use (governance.yaml, the loaded policy names and
// server.auth.tokens are reloaded with them), so an edit applies on the
// next reload without a restart.
func (s *Server) governed(h govHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.o.gov.st == nil {
			writeGovError(w, http.StatusNotFound, "no approval store: start attest serve with --store (or exemptions.store) to serve the exemption endpoints")
			return
		}
		snap := s.Snapshot()
		if snap == nil {
			writeGovError(w, http.StatusServiceUnavailable, errNotReady.Error())
			return
		}
		cfg := snap.Project.Config
		actor, err := authenticate(r, cfg.Server.Auth.Tokens, s.o.gov.clientCAs)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="attest"`)
			writeGovError(w, http.StatusUnauthorized, err.Error())
			return
		}
		known := map[string]bool{}
		if snap.Project.Policies != nil {
			for _, p := range snap.Project.Policies.Policies {
				known[p.Name], known[p.Package] = true, true
			}
		}
		opts := []governance.Option{
			governance.WithGovernance(cfg.Governance),
			governance.WithPolicies(func(n string) bool { return known[n] }),
		}
		if s.o.gov.now != nil {
			opts = append(opts, governance.WithClock(s.o.gov.now))
		}
		h(w, r, govRequest{actor: actor, svc: governance.New(s.o.gov.st, opts...)})
	})
}

// readGovBody reads a small JSON body; it answers and returns false when
// the body is too large or not JSON.
func readGovBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxGovBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeGovError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", maxGovBody))
			return nil, false
		}
		writeGovError(w, http.StatusBadRequest, "reading the body: "+err.Error())
		return nil, false
	}
	if ct := r.Header.Get("Content-Type"); len(body) > 0 && ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			writeGovError(w, http.StatusUnsupportedMediaType, "content type must be application/json")
			return nil, false
		}
	}
	return body, true
}

func (s *Server) handleFile(emergency bool) govHandler {
	return func(w http.ResponseWriter, r *http.Request, g govRequest) {
		body, ok := readGovBody(w, r)
		if !ok {
			return
		}
		req, err := DecodeExemptionRequest(body)
		if err != nil {
			writeGovError(w, http.StatusBadRequest, err.Error())
			return
		}
		if emergency && strings.TrimSpace(req.Duration) == "" {
			req.Duration = "4h" // as `attest policy override`
		}
		gr := governance.Request{Policy: req.Policy, Rule: req.Rule, Resource: req.Resource, Reason: req.Reason,
			Duration: req.Duration, Approvers: req.Approvers, By: g.actor}
		file, action := g.svc.Request, governance.ActionRequest
		if emergency {
			file, action = g.svc.Override, governance.ActionOverride
		}
		e, err := file(r.Context(), gr)
		if err != nil {
			s.govFailed(w, r, action, "", err)
			return
		}
		s.changed(r.Context(), action, e, g.actor)
		writeGovJSON(w, http.StatusCreated, view(g.svc, e))
	}
}

func (s *Server) handleDecide(action string) govHandler {
	return func(w http.ResponseWriter, r *http.Request, g govRequest) {
		id := r.PathValue("id")
		body, ok := readGovBody(w, r)
		if !ok {
			return
		}
		d, err := DecodeDecision(body)
		if err != nil {
			writeGovError(w, http.StatusBadRequest, err.Error())
			return
		}
		decide := map[string]func(context.Context, string, governance.Actor, string) (store.Exemption, error){
			governance.ActionApprove: g.svc.Approve,
			governance.ActionReject:  g.svc.Reject,
			governance.ActionRevoke:  g.svc.Revoke,
		}[action]
		e, err := decide(r.Context(), id, g.actor, d.Comment)
		var expired *governance.ExpiredError
		if errors.As(err, &expired) {
			// The expiry was recorded; the approval counted for nothing.
			s.changed(r.Context(), governance.ActionExpire, e, governance.Actor{Name: "attest", Identity: governance.IdentitySystem})
		}
		if err != nil {
			s.govFailed(w, r, action, id, err)
			return
		}
		s.changed(r.Context(), action, e, g.actor)
		writeGovJSON(w, http.StatusOK, view(g.svc, e))
	}
}

func (s *Server) handleList(w http.ResponseWriter, r *http.Request, g govRequest) {
	var st store.Status
	if q := r.URL.Query().Get("status"); q != "" {
		var err error
		if st, err = store.ParseStatus(q); err != nil {
			writeGovError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	list, err := g.svc.List(r.Context(), st)
	if err != nil {
		s.govFailed(w, r, "list", "", err)
		return
	}
	out := make([]ExemptionView, 0, len(list))
	for _, e := range list {
		out = append(out, view(g.svc, e))
	}
	writeGovJSON(w, http.StatusOK, out)
}

func (s *Server) handleGet(w http.ResponseWriter, r *http.Request, g govRequest) {
	e, err := g.svc.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		s.govFailed(w, r, "get", r.PathValue("id"), err)
		return
	}
	writeGovJSON(w, http.StatusOK, view(g.svc, e))
}

func (s *Server) handleAudit(w http.ResponseWriter, r *http.Request, g govRequest) {
	since, err := parseSince(r.URL.Query().Get("since"), time.Now())
	if err != nil {
		writeGovError(w, http.StatusBadRequest, err.Error())
		return
	}
	entries, err := g.svc.Store().Audit(r.Context(), since)
	if err != nil {
		s.govFailed(w, r, "audit", "", err)
		return
	}
	if entries == nil {
		entries = []store.AuditEntry{}
	}
	writeGovJSON(w, http.StatusOK, entries)
}

func (s *Server) handleVerify(w http.ResponseWriter, r *http.Request, g govRequest) {
	rep, err := g.svc.Verify(r.Context())
	if err != nil {
		s.govFailed(w, r, "verify", "", err)
		return
	}
	v := VerifyView{OK: rep.OK(), Entries: rep.Entries, Exemptions: rep.Exemptions, Mismatches: rep.Mismatches}
	if rep.Chain != nil {
		v.Chain = rep.Chain.Error()
	}
	writeGovJSON(w, http.StatusOK, v)
}

// parseSince reads ?since= as `attest audit log --since` does: a time
// (RFC 3339 or a date) or a duration back from now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := config.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("since %q: want a time (2024-02-01T12:00:00Z), a date (2024-02-01) or a duration (7d)", s)
}

func view(svc *governance.Service, e store.Exemption) ExemptionView {
	n, teams := svc.Needed(e)
	return ExemptionView{Exemption: e, ApprovalsNeeded: n, RequiredTeams: teams}
}

// changed logs a change and makes it apply to admission at once on this
// replica (the others see it within their cache's TTL). The log has the
// id, the action and who, never a comment, a reason or a token.
func (s *Server) changed(ctx context.Context, action string, e store.Exemption, by governance.Actor) {
	s.log.LogAttrs(ctx, slog.LevelInfo, "exemption "+action, slog.String("exemption", e.ID), slog.String("status", string(e.Status)),
		slog.String("actor", by.Name), slog.String("identity", by.Identity), slog.Bool("emergency", e.Emergency))
	if err := s.SyncExemptions(context.WithoutCancel(ctx), true); err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "store exemptions not synced after a change; the periodic sync retries", slog.String("error", err.Error()))
	}
}

// govFailed answers a refused or failed workflow call: the refusal's own
// words with 400, 403, 404 or 409; anything else is the server's fault,
// logged and answered 500 without details.
func (s *Server) govFailed(w http.ResponseWriter, r *http.Request, action, id string, err error) {
	code := govStatus(err)
	if code == http.StatusInternalServerError {
		s.log.LogAttrs(r.Context(), slog.LevelError, "approval store request failed", slog.String("action", action),
			slog.String("exemption", id), slog.String("error", err.Error()))
		writeGovError(w, code, "the approval store failed; see the server log")
		return
	}
	writeGovError(w, code, err.Error())
}

func govStatus(err error) int {
	var (
		invalid *governance.InvalidError
		denied  *governance.DeniedError
		state   *governance.StateError
		expired *governance.ExpiredError
	)
	switch {
	case errors.As(err, &invalid):
		return http.StatusBadRequest
	case errors.As(err, &denied):
		return http.StatusForbidden
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound
	case errors.As(err, &state), errors.As(err, &expired), errors.Is(err, store.ErrDuplicateApproval):
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}

func writeGovJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		writeGovError(w, http.StatusInternalServerError, "encode the answer: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

func writeGovError(w http.ResponseWriter, code int, msg string) {
	b, _ := json.Marshal(map[string]string{"error": msg})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

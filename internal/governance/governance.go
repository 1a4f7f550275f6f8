// Package governance is the exemption workflow of spec section 11: a
// request names a policy, a resource, a reason, a duration and who is asked
// to approve; approvals from the right people (per .attest/governance.yaml)
// approve it; it can be rejected, revoked, or run out. Every change is
// written with its audit entry in one store transaction, and Verify proves
// the audit chain intact and the stored state equal to the log's.
package governance

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/continuums/attest/internal/config"
	"github.com/continuums/attest/internal/exemption"
	"github.com/continuums/attest/internal/store"
)

// Audit actions.
const (
	ActionRequest  = "request"
	ActionOverride = "override"
	ActionApprove  = "approve"
	ActionReject   = "reject"
	ActionRevoke   = "revoke"
	ActionExpire   = "expire"
)

// IdentitySelfDeclared is how the command line's identities are recorded:
// against a local store, nothing proves who typed --approver.
const IdentitySelfDeclared = "self-declared"

// IdentitySystem records changes attest makes itself (an expiry seen).
const IdentitySystem = "system"

// DefaultEmergencyMax bounds an emergency override when max_duration does
// not bound it more tightly: break-glass is for hours, not weeks.
const DefaultEmergencyMax = 24 * time.Hour

// Actor is who makes a change, and how that is known.
type Actor struct {
	Name     string
	Identity string // IdentitySelfDeclared on the command line
}

// Request is an exemption request as the user gives it.
type Request struct {
	Policy    string
	Rule      string
	Resource  string // Kind/namespace/name or Kind/name
	Reason    string
	Duration  string // "30d", "12h"
	Approvers []string
	By        Actor
}

// Service runs the workflow against a store.
type Service struct {
	st         store.Store
	gov        config.Governance
	knownPol   func(string) bool
	now        func() time.Time
	emergMax   time.Duration
	haveConfig bool
}

// Option configures a Service.
type Option func(*Service)

// WithGovernance applies .attest/governance.yaml; nil leaves the defaults
// (one approval from anyone named, no duration limit, no overrides).
func WithGovernance(g *config.Governance) Option {
	return func(s *Service) {
		if g != nil {
			s.gov = *g
			s.haveConfig = true
		}
	}
}

// WithPolicies says which policy names exist; requests for others are
// refused. Without it every name is accepted.
func WithPolicies(known func(name string) bool) Option {
	return func(s *Service) { s.knownPol = known }
}

// WithClock sets the clock (default time.Now).
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// WithEmergencyMax changes the longest emergency override (default 24h).
func WithEmergencyMax(d time.Duration) Option { return func(s *Service) { s.emergMax = d } }

// New gives a Service on st.
func New(st store.Store, opts ...Option) *Service {
	s := &Service{st: st, now: time.Now, emergMax: DefaultEmergencyMax}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Store is the service's store.
func (s *Service) Store() store.Store { return s.st }

func (s *Service) clock() time.Time { return s.now().UTC() }

// details is what an audit entry says besides the snapshot.
type details struct {
	Comment   string          `json:"comment,omitempty"`
	Approval  *store.Approval `json:"approval,omitempty"`
	Exemption store.Exemption `json:"exemption"` // the state after the change
}

// write saves e and appends its audit entry, in the caller's transaction.
func write(ctx context.Context, tx store.Tx, action string, by Actor, at time.Time, e store.Exemption, d details) error {
	if err := tx.Put(ctx, e); err != nil {
		return err
	}
	d.Exemption = e
	b, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encode audit details: %w", err)
	}
	_, err = tx.Append(ctx, store.AuditEntry{At: at, Action: action, Exemption: e.ID, Actor: by.Name, Identity: by.Identity, Details: string(b)})
	return err
}

// Request files a pending exemption request and returns it with its id.
func (s *Service) Request(ctx context.Context, r Request) (store.Exemption, error) {
	return s.file(ctx, r, false)
}

// Override files an emergency (break-glass) exemption: allowed only when
// emergency_override.enabled, bounded by a short maximum, flagged Emergency,
// and needing emergency_override.required_approvers approvals of its own.
func (s *Service) Override(ctx context.Context, r Request) (store.Exemption, error) {
	if !s.gov.EmergencyOverride.Enabled {
		return store.Exemption{}, denied("emergency overrides are not enabled (governance.emergency_override.enabled in .attest/governance.yaml)")
	}
	return s.file(ctx, r, true)
}

func (s *Service) file(ctx context.Context, r Request, emergency bool) (store.Exemption, error) {
	e, err := s.validateRequest(r, emergency)
	if err != nil {
		return store.Exemption{}, err
	}
	action := ActionRequest
	if emergency {
		action = ActionOverride
	}
	err = s.st.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		id, err := tx.NextID(ctx)
		if err != nil {
			return err
		}
		e.ID = id
		return write(ctx, tx, action, r.By, e.RequestedAt, e, details{})
	})
	if err != nil {
		return store.Exemption{}, fmt.Errorf("file the request: %w", err)
	}
	return e, nil
}

func (s *Service) validateRequest(r Request, emergency bool) (store.Exemption, error) {
	var problems []string
	policy := strings.TrimSpace(r.Policy)
	switch {
	case policy == "":
		problems = append(problems, "no policy (--policy)")
	case s.knownPol != nil && !s.knownPol(policy):
		problems = append(problems, fmt.Sprintf("unknown policy %q: no policy this project loads has that name or package", policy))
	}
	ref, err := exemption.ParseResourceRef(r.Resource)
	if err != nil {
		problems = append(problems, err.Error())
	}
	// What the exemptions file refuses is refused here too: an approved
	// request is exported to such a file.
	if err := exemption.CheckRule(policy, strings.TrimSpace(r.Rule)); err != nil {
		problems = append(problems, err.Error())
	}
	if strings.TrimSpace(r.Reason) == "" {
		problems = append(problems, "no reason (--reason)")
	}
	var dur time.Duration
	if strings.TrimSpace(r.Duration) == "" {
		problems = append(problems, "no duration (--duration, for example 30d)")
	} else if dur, err = config.ParseDuration(strings.TrimSpace(r.Duration)); err != nil {
		problems = append(problems, err.Error())
	} else if dur <= 0 {
		problems = append(problems, fmt.Sprintf("duration %q is not positive", r.Duration))
	} else if max := s.gov.ExemptionApproval.MaxDurationValue; max > 0 && dur > max {
		problems = append(problems, fmt.Sprintf("duration %s is longer than governance.exemption_approval.max_duration (%s)", r.Duration, s.gov.ExemptionApproval.MaxDuration))
	} else if emergency && s.emergMax > 0 && dur > s.emergMax {
		problems = append(problems, fmt.Sprintf("duration %s is longer than an emergency override may last (%s)", r.Duration, s.emergMax))
	}
	var approvers []string
	for _, a := range r.Approvers {
		for _, one := range strings.Split(a, ",") {
			if n := normalize(one); n != "" && !slices.Contains(approvers, n) {
				approvers = append(approvers, n)
			}
		}
	}
	if len(approvers) == 0 {
		problems = append(problems, "no approver (--approver, a person or a team)")
	}
	for _, a := range approvers {
		if strings.ContainsAny(a, " \t") {
			problems = append(problems, fmt.Sprintf("approver %q is not a person's address or a team", a))
		}
	}
	by := normalize(r.By.Name)
	if by == "" {
		problems = append(problems, "no requester (--requested-by)")
	}
	if len(problems) > 0 {
		return store.Exemption{}, &InvalidError{msg: strings.Join(problems, "; ")}
	}
	now := s.clock()
	return store.Exemption{
		Policy: policy, Rule: strings.TrimSpace(r.Rule),
		Kind: ref.Kind, Namespace: ref.Namespace, Name: ref.Name,
		Reason: strings.TrimSpace(r.Reason), Duration: dur, Approvers: approvers,
		RequestedBy: by, Emergency: emergency, Status: store.StatusPending,
		RequestedAt: now, ExpiresAt: now.Add(dur), UpdatedAt: now,
	}, nil
}

// ExpiredError is returned when an approval arrives after the request
// expired: it counts for nothing, and the expiry is recorded.
type ExpiredError struct {
	ID        string
	ExpiresAt time.Time
	Action    string // what came too late; "" is an approval
}

func (e *ExpiredError) Error() string {
	if e.Action != "" && e.Action != ActionApprove {
		return fmt.Sprintf("%s expired at %s: it has ended already, there is nothing to %s", e.ID, e.ExpiresAt.Format(time.RFC3339), e.Action)
	}
	return fmt.Sprintf("%s expired at %s: the approval counts for nothing; file a new request", e.ID, e.ExpiresAt.Format(time.RFC3339))
}

// Approve records by's approval. When enough approvals from the right
// teams are in, the exemption becomes approved. The requester cannot
// approve their own request, and each person approves once.
func (s *Service) Approve(ctx context.Context, id string, by Actor, comment string) (store.Exemption, error) {
	var out store.Exemption
	var expired *ExpiredError
	err := s.st.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		e, err := tx.Exemption(ctx, id)
		if err != nil {
			return err
		}
		now := s.clock()
		if e.Status == store.StatusPending && !now.Before(e.ExpiresAt) {
			expired = &ExpiredError{ID: e.ID, ExpiresAt: e.ExpiresAt}
			out, err = s.expire(ctx, tx, e, now)
			return err
		}
		if e.Status != store.StatusPending {
			return stateError("%s is %s, not pending: it takes no more approvals", e.ID, e.Status)
		}
		who := normalize(by.Name)
		if err := s.mayApprove(e, who); err != nil {
			return err
		}
		for _, a := range e.Approvals {
			if a.By == who {
				return fmt.Errorf("%s by %s: %w", e.ID, who, store.ErrDuplicateApproval)
			}
		}
		a := store.Approval{By: who, Comment: strings.TrimSpace(comment), At: now, Identity: by.Identity}
		if err := tx.AddApproval(ctx, e.ID, a); err != nil {
			return err
		}
		e.Approvals = append(e.Approvals, a)
		if s.satisfied(e) {
			e.Status = store.StatusApproved
		}
		e.UpdatedAt = now
		out = e
		return write(ctx, tx, ActionApprove, Actor{Name: who, Identity: by.Identity}, now, e, details{Comment: a.Comment, Approval: &a})
	})
	if err != nil {
		return store.Exemption{}, fmt.Errorf("approve %s: %w", id, err)
	}
	if expired != nil {
		return out, expired
	}
	return out, nil
}

// Reject closes a pending request. Only someone who may approve it may
// reject it; the requester withdraws with Revoke.
func (s *Service) Reject(ctx context.Context, id string, by Actor, comment string) (store.Exemption, error) {
	return s.close(ctx, id, by, comment, ActionReject, store.StatusRejected, func(e store.Exemption, who string) error {
		if e.Status != store.StatusPending {
			return stateError("%s is %s: only a pending request can be rejected", e.ID, e.Status)
		}
		return s.mayApprove(e, who)
	})
}

// Revoke ends a pending or approved exemption. The requester or anyone
// who may approve it may revoke it.
func (s *Service) Revoke(ctx context.Context, id string, by Actor, comment string) (store.Exemption, error) {
	return s.close(ctx, id, by, comment, ActionRevoke, store.StatusRevoked, func(e store.Exemption, who string) error {
		if e.Status != store.StatusPending && e.Status != store.StatusApproved {
			return stateError("%s is %s: only a pending or approved exemption can be revoked", e.ID, e.Status)
		}
		if who == e.RequestedBy {
			return nil
		}
		return s.mayDecide(e, who)
	})
}

func (s *Service) close(ctx context.Context, id string, by Actor, comment, action string, to store.Status, allowed func(store.Exemption, string) error) (store.Exemption, error) {
	var out store.Exemption
	var expired *ExpiredError
	err := s.st.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		e, err := tx.Exemption(ctx, id)
		if err != nil {
			return err
		}
		who := normalize(by.Name)
		if who == "" {
			return &InvalidError{msg: "no approver given (--approver)"}
		}
		if err := allowed(e, who); err != nil {
			return err
		}
		// Time ended it first: one that ran out is recorded as expired,
		// not rejected or revoked after the fact. (Who asks is checked
		// before: someone without the right learns nothing more.)
		if now := s.clock(); !now.Before(e.ExpiresAt) {
			expired = &ExpiredError{ID: e.ID, ExpiresAt: e.ExpiresAt, Action: action}
			out, err = s.expire(ctx, tx, e, now)
			return err
		}
		now := s.clock()
		e.Status, e.DecidedBy, e.DecisionComment, e.UpdatedAt = to, who, strings.TrimSpace(comment), now
		out = e
		return write(ctx, tx, action, Actor{Name: who, Identity: by.Identity}, now, e, details{Comment: e.DecisionComment})
	})
	if err != nil {
		return store.Exemption{}, fmt.Errorf("%s %s: %w", action, id, err)
	}
	if expired != nil {
		return out, expired
	}
	return out, nil
}

// ExpireDue records the expiry of every pending or approved exemption
// whose time is up, and gives their ids.
func (s *Service) ExpireDue(ctx context.Context) ([]string, error) {
	var ids []string
	err := s.st.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		ids = nil
		now := s.clock()
		for _, st := range []store.Status{store.StatusPending, store.StatusApproved} {
			list, err := tx.Exemptions(ctx, store.Filter{Status: st})
			if err != nil {
				return err
			}
			for _, e := range list {
				if now.Before(e.ExpiresAt) {
					continue
				}
				if _, err := s.expire(ctx, tx, e, now); err != nil {
					return err
				}
				ids = append(ids, e.ID)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("record expiries: %w", err)
	}
	return ids, nil
}

func (s *Service) expire(ctx context.Context, tx store.Tx, e store.Exemption, now time.Time) (store.Exemption, error) {
	e.Status, e.UpdatedAt = store.StatusExpired, now
	return e, write(ctx, tx, ActionExpire, Actor{Name: "attest", Identity: IdentitySystem}, now, e, details{})
}

// List gives the exemptions with the given status ("" for all), recording
// any expiry that is due first so the statuses are current.
func (s *Service) List(ctx context.Context, status store.Status) ([]store.Exemption, error) {
	if _, err := s.ExpireDue(ctx); err != nil {
		return nil, err
	}
	return s.st.Exemptions(ctx, store.Filter{Status: status})
}

// Get gives one exemption.
func (s *Service) Get(ctx context.Context, id string) (store.Exemption, error) {
	return s.st.Exemption(ctx, id)
}

// Needed says how many approvals e needs and from which teams.
func (s *Service) Needed(e store.Exemption) (int, []string) {
	n := s.gov.ExemptionApproval.RequiredApprovers
	if e.Emergency {
		n = s.gov.EmergencyOverride.RequiredApprovers
	}
	if n < 1 {
		// An exemption nobody approved is not an approval workflow.
		n = 1
	}
	return n, s.gov.ExemptionApproval.RequiredTeams
}

// satisfied says whether e's approvals are enough: the required number of
// distinct people, and at least one member of every required team.
func (s *Service) satisfied(e store.Exemption) bool {
	n, teams := s.Needed(e)
	if len(e.Approvals) < n {
		return false
	}
	for _, t := range teams {
		if !slices.ContainsFunc(e.Approvals, func(a store.Approval) bool { return s.memberOf(a.By, t) }) {
			return false
		}
	}
	return true
}

// mayApprove says why who cannot approve e, or nil.
func (s *Service) mayApprove(e store.Exemption, who string) error {
	if who == "" {
		return &InvalidError{msg: "no approver given (--approver)"}
	}
	if who == e.RequestedBy {
		return denied("%s requested %s and cannot approve or reject it", who, e.ID)
	}
	return s.mayDecide(e, who)
}

// mayDecide: who must be a person (not a team), named on the request or a
// member of a team named on it, and, when required teams are configured,
// a member of one of them.
func (s *Service) mayDecide(e store.Exemption, who string) error {
	if t, ok := s.team(who); ok {
		return denied("%q is the team %s: approve as one of its members", who, t)
	}
	named := false
	for _, a := range e.Approvers {
		if t, ok := s.team(a); ok {
			named = named || s.memberOf(who, t)
		} else {
			named = named || a == who
		}
	}
	if !named {
		return denied("%s is not among the approvers named on %s (%s)", who, e.ID, strings.Join(e.Approvers, ", "))
	}
	if teams := s.gov.ExemptionApproval.RequiredTeams; len(teams) > 0 {
		if !slices.ContainsFunc(teams, func(t string) bool { return s.memberOf(who, t) }) {
			return denied("%s is not a member of a team that approves exemptions (%s)", who, strings.Join(teams, ", "))
		}
	}
	return nil
}

// team resolves a name to a declared team: its name ("security-team") or
// a team address whose domain is one of its members' ("security-team@company.com").
func (s *Service) team(name string) (string, bool) {
	name = normalize(name)
	local, domain, isAddr := strings.Cut(name, "@")
	for t, members := range s.gov.Teams {
		lt := strings.ToLower(strings.TrimSpace(t))
		if !isAddr && name == lt {
			return t, true
		}
		if isAddr && local == lt {
			for _, m := range members {
				if _, d, ok := strings.Cut(normalize(m), "@"); ok && d == domain {
					return t, true
				}
			}
		}
	}
	return "", false
}

func (s *Service) memberOf(who, team string) bool {
	t, ok := s.team(team)
	if !ok {
		return false
	}
	return slices.ContainsFunc(s.gov.Teams[t], func(m string) bool { return normalize(m) == who })
}

// normalize reduces an identity to a lower-case address: "Alice
// <Alice@Company.com>" -> "alice@company.com".
func normalize(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '<'); i >= 0 {
		if j := strings.IndexByte(s[i:], '>'); j > 0 {
			s = s[i+1 : i+j]
		}
	}
	return strings.ToLower(strings.TrimSpace(s))
}

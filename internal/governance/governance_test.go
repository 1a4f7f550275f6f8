package governance_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/continuums/attest/internal/config"
	"github.com/continuums/attest/internal/exemption"
	"github.com/continuums/attest/internal/governance"
	"github.com/continuums/attest/internal/store"
	"github.com/continuums/attest/internal/store/storetest"
)

var (
	pg     *storetest.Postgres
	pgSkip string
)

func TestMain(m *testing.M) {
	if url := os.Getenv("ATTEST_STORE_CHILD"); url != "" {
		os.Exit(childWriter(url))
	}
	os.Exit(storetest.Main(m, &pg, &pgSkip))
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newClock() *clock { return &clock{t: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)} }

func gov(required int, teams ...string) *config.Governance {
	return &config.Governance{
		ExemptionApproval: config.ExemptionApproval{RequiredApprovers: required, RequiredTeams: teams, MaxDuration: "30d", MaxDurationValue: 30 * 24 * time.Hour},
		EmergencyOverride: config.EmergencyOverride{Enabled: true, RequiredApprovers: 2, AuditTrail: "required"},
		Teams: map[string][]string{
			"security-team":   {"alice@company.com", "bob@company.com", "carol@company.com"},
			"compliance-team": {"dave@company.com"},
		},
	}
}

func knownPolicies(name string) bool { return name == "attest-security" || name == "image-security" }

func openStore(t *testing.T, url string) store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func self(name string) governance.Actor {
	return governance.Actor{Name: name, Identity: governance.IdentitySelfDeclared}
}

func request() governance.Request {
	return governance.Request{Policy: "attest-security", Resource: "Pod/monitoring/legacy-app", Reason: "Legacy app migration in progress",
		Duration: "30d", Approvers: []string{"security-team@company.com"}, By: self("dev@company.com")}
}

// forEachBackend runs fn against a fresh store of every backend.
func forEachBackend(t *testing.T, fn func(t *testing.T, url string)) {
	for _, b := range storetest.Backends(pg, pgSkip) {
		t.Run(b.Name, func(t *testing.T) { fn(t, b.NewURL(t)) })
	}
}

func mustVerify(t *testing.T, svc *governance.Service) {
	t.Helper()
	rep, err := svc.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("verify: chain %v, mismatches %v", rep.Chain, rep.Mismatches)
	}
}

func TestWorkflow(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		ctx := context.Background()
		clk := newClock()
		svc := governance.New(openStore(t, url), governance.WithGovernance(gov(2, "security-team")), governance.WithPolicies(knownPolicies), governance.WithClock(clk.now))

		e, err := svc.Request(ctx, request())
		if err != nil {
			t.Fatal(err)
		}
		if e.ID != "exemption-1" || e.Status != store.StatusPending || !e.ExpiresAt.Equal(clk.now().Add(30*24*time.Hour)) {
			t.Fatalf("request: %+v", e)
		}
		refused := []struct{ who, want string }{
			{"dev@company.com", "cannot approve"},
			{"mallory@evil.example", "not among the approvers"},
			{"security-team@company.com", "approve as one of its members"},
			{"dave@company.com", "not among the approvers"},
		}
		for _, r := range refused {
			if _, err := svc.Approve(ctx, e.ID, self(r.who), "ok"); err == nil || !strings.Contains(err.Error(), r.want) {
				t.Errorf("approve by %s: %v, want %q", r.who, err, r.want)
			}
		}
		clk.add(time.Hour)
		e, err = svc.Approve(ctx, e.ID, self("Alice <Alice@Company.com>"), "Approved for migration period")
		if err != nil {
			t.Fatal(err)
		}
		if e.Status != store.StatusPending || len(e.Approvals) != 1 || e.Approvals[0].By != "alice@company.com" {
			t.Fatalf("after one of two approvals: %+v", e)
		}
		if _, err := svc.Approve(ctx, e.ID, self("alice@company.com"), "again"); !errors.Is(err, store.ErrDuplicateApproval) {
			t.Errorf("second approval by alice: %v", err)
		}
		if list, _ := svc.Exemptions(ctx); len(list) != 0 {
			t.Errorf("pending exemption applied: %+v", list)
		}
		e, err = svc.Approve(ctx, e.ID, self("bob@company.com"), "")
		if err != nil || e.Status != store.StatusApproved {
			t.Fatalf("second approval: %+v %v", e, err)
		}
		list, err := svc.Exemptions(ctx)
		if err != nil || len(list) != 1 || list[0].Source != exemption.SourceStore || list[0].ApprovedBy != "alice@company.com, bob@company.com" {
			t.Fatalf("provider: %+v %v", list, err)
		}
		if err := exemption.Validate(list[0], clk.now()); err != nil {
			t.Errorf("an approved store exemption is not honoured: %v", err)
		}
		if _, err := svc.Approve(ctx, e.ID, self("carol@company.com"), ""); err == nil {
			t.Error("approved exemption took another approval")
		}
		if _, err := svc.Revoke(ctx, e.ID, self("mallory@evil.example"), "no"); err == nil {
			t.Error("a stranger revoked")
		}
		if e, err = svc.Revoke(ctx, e.ID, self("dev@company.com"), "migrated early"); err != nil || e.Status != store.StatusRevoked {
			t.Fatalf("revoke: %+v %v", e, err)
		}
		if list, _ := svc.Exemptions(ctx); len(list) != 0 {
			t.Errorf("revoked exemption still applies: %+v", list)
		}

		// Reject, then expiry: a late approval counts for nothing.
		r2, _ := svc.Request(ctx, request())
		if _, err := svc.Reject(ctx, r2.ID, self("dev@company.com"), ""); err == nil {
			t.Error("the requester rejected their own request")
		}
		if r2, err = svc.Reject(ctx, r2.ID, self("carol@company.com"), "use the new operator"); err != nil || r2.Status != store.StatusRejected || r2.DecidedBy != "carol@company.com" {
			t.Fatalf("reject: %+v %v", r2, err)
		}
		r3, _ := svc.Request(ctx, request())
		clk.add(31 * 24 * time.Hour)
		var exp *governance.ExpiredError
		if r3, err = svc.Approve(ctx, r3.ID, self("alice@company.com"), ""); !errors.As(err, &exp) || r3.Status != store.StatusExpired || len(r3.Approvals) != 0 {
			t.Fatalf("approval after expiry: %+v %v", r3, err)
		}
		got, _ := svc.Get(ctx, r3.ID)
		if got.Status != store.StatusExpired || len(got.Approvals) != 0 {
			t.Fatalf("stored after a late approval: %+v", got)
		}
		entries, _ := svc.Store().Audit(ctx, time.Time{})
		var actions []string
		for _, e := range entries {
			actions = append(actions, e.Action+":"+e.Exemption)
		}
		want := "request:exemption-1 approve:exemption-1 approve:exemption-1 revoke:exemption-1 request:exemption-2 reject:exemption-2 request:exemption-3 expire:exemption-3"
		if strings.Join(actions, " ") != want {
			t.Errorf("audit actions:\n got %s\nwant %s", strings.Join(actions, " "), want)
		}

		// Nor can an exemption that ran out be rejected or revoked: it is
		// recorded as expired.
		r4, _ := svc.Request(ctx, request())
		clk.add(31 * 24 * time.Hour)
		// Someone without the right is refused as such, expired or not.
		if _, err := svc.Reject(ctx, r4.ID, self("mallory@evil.example"), ""); err == nil || errors.As(err, &exp) {
			t.Fatalf("a stranger rejecting an expired request: %v", err)
		}
		if r4, err = svc.Reject(ctx, r4.ID, self("carol@company.com"), ""); !errors.As(err, &exp) || r4.Status != store.StatusExpired {
			t.Fatalf("reject after expiry: %+v %v", r4, err)
		}
		r5, _ := svc.Request(ctx, request())
		clk.add(31 * 24 * time.Hour)
		if r5, err = svc.Revoke(ctx, r5.ID, self("dev@company.com"), ""); !errors.As(err, &exp) || r5.Status != store.StatusExpired || !strings.Contains(err.Error(), "nothing to revoke") {
			t.Fatalf("revoke after expiry: %+v %v", r5, err)
		}
		if entries[1].Identity != governance.IdentitySelfDeclared || entries[1].Actor != "alice@company.com" {
			t.Errorf("approval entry: %+v", entries[1])
		}
		mustVerify(t, svc)
	})
}

func TestRequiredTeams(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		ctx := context.Background()
		g := gov(2, "security-team", "compliance-team")
		svc := governance.New(openStore(t, url), governance.WithGovernance(g), governance.WithPolicies(knownPolicies))
		r := request()
		r.Approvers = []string{"security-team", "compliance-team@company.com"}
		e, err := svc.Request(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		e, _ = svc.Approve(ctx, e.ID, self("alice@company.com"), "")
		e, _ = svc.Approve(ctx, e.ID, self("bob@company.com"), "")
		if e.Status != store.StatusPending {
			t.Fatalf("two security approvals and no compliance one: %s", e.Status)
		}
		if e, err = svc.Approve(ctx, e.ID, self("dave@company.com"), ""); err != nil || e.Status != store.StatusApproved {
			t.Fatalf("after compliance: %+v %v", e, err)
		}
	})
}

func TestRequestErrorsWriteNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		ctx := context.Background()
		svc := governance.New(openStore(t, url), governance.WithGovernance(gov(1, "security-team")), governance.WithPolicies(knownPolicies))
		tests := []struct {
			name string
			edit func(*governance.Request)
			want string
		}{
			{"unknown policy", func(r *governance.Request) { r.Policy = "no-such-policy" }, `unknown policy "no-such-policy"`},
			{"bad duration", func(r *governance.Request) { r.Duration = "soon" }, `invalid duration "soon"`},
			{"negative duration", func(r *governance.Request) { r.Duration = "-1d" }, "not positive"},
			{"too long", func(r *governance.Request) { r.Duration = "31d" }, "longer than governance.exemption_approval.max_duration (30d)"},
			{"bad resource", func(r *governance.Request) { r.Resource = "Pod/a/b/c" }, "has 4 parts"},
			{"bad namespace", func(r *governance.Request) { r.Resource = "Pod/Bad_NS/x" }, "not a valid namespace"},
			{"no reason", func(r *governance.Request) { r.Reason = " " }, "no reason"},
			{"no approver", func(r *governance.Request) { r.Approvers = nil }, "no approver"},
			{"no requester", func(r *governance.Request) { r.By.Name = "" }, "no requester"},
			// What an exemptions file refuses: an approved request is
			// exported to one, which must load.
			{"a glob inside a name", func(r *governance.Request) { r.Resource = "Pod/prod/a*b" }, "'*' may only end the pattern"},
			{"a rule glob", func(r *governance.Request) { r.Rule = "*" }, "want one rule's id"},
			{"another policy's rule", func(r *governance.Request) { r.Rule = "image-security/latest-tag" }, `rule "image-security/latest-tag" is not in policy "attest-security"`},
		}
		for _, tc := range tests {
			r := request()
			tc.edit(&r)
			if _, err := svc.Request(ctx, r); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
			}
		}
		for _, op := range []func() error{
			func() error { _, err := svc.Approve(ctx, "exemption-42", self("alice@company.com"), ""); return err },
			func() error { _, err := svc.Reject(ctx, "exemption-42", self("alice@company.com"), ""); return err },
			func() error { _, err := svc.Revoke(ctx, "exemption-42", self("alice@company.com"), ""); return err },
		} {
			if err := op(); !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), "exemption-42") {
				t.Errorf("unknown id: %v", err)
			}
		}
		if entries, _ := svc.Store().Audit(ctx, time.Time{}); len(entries) != 0 {
			t.Errorf("refused requests wrote %d audit entries", len(entries))
		}
		if list, _ := svc.Store().Exemptions(ctx, store.Filter{}); len(list) != 0 {
			t.Errorf("refused requests wrote %d exemptions", len(list))
		}
	})
}

func TestEmergencyOverride(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		ctx := context.Background()
		st := openStore(t, url)
		off := gov(1, "security-team")
		off.EmergencyOverride.Enabled = false
		r := request()
		r.Duration = "4h"
		if _, err := governance.New(st, governance.WithGovernance(off)).Override(ctx, r); err == nil || !strings.Contains(err.Error(), "not enabled") {
			t.Fatalf("override while disabled: %v", err)
		}
		svc := governance.New(st, governance.WithGovernance(gov(1, "security-team")))
		long := r
		long.Duration = "2d"
		if _, err := svc.Override(ctx, long); err == nil || !strings.Contains(err.Error(), "emergency override") {
			t.Errorf("2d override: %v", err)
		}
		e, err := svc.Override(ctx, r)
		if err != nil || !e.Emergency {
			t.Fatalf("override: %+v %v", e, err)
		}
		// Its own approvals: two, where a normal request needs one.
		if e, _ = svc.Approve(ctx, e.ID, self("alice@company.com"), ""); e.Status != store.StatusPending {
			t.Fatalf("emergency approved after one approval")
		}
		if e, _ = svc.Approve(ctx, e.ID, self("bob@company.com"), ""); e.Status != store.StatusApproved {
			t.Fatalf("emergency not approved after two")
		}
		list, _ := svc.Exemptions(ctx)
		if len(list) != 1 || !list[0].Emergency || !list[0].Finding().Emergency {
			t.Fatalf("emergency flag lost: %+v", list)
		}
		entries, _ := st.Audit(ctx, time.Time{})
		if entries[0].Action != governance.ActionOverride {
			t.Errorf("first entry %s, want override", entries[0].Action)
		}
		mustVerify(t, svc)
	})
}

// TestTamper edits the database behind attest's back; Verify must name
// each change.
func TestTamper(t *testing.T) {
	tests := []struct {
		name  string
		sql   []string
		chain string // "removed", "changed", "reordered", or "" (state only)
		state string // a substring of a mismatch, or ""
	}{
		{"edit a reason in the exemptions table", []string{`UPDATE exemptions SET reason = 'forever' WHERE id = 'exemption-1'`}, "", `reason: stored "forever"`},
		{"extend an expiry", []string{`UPDATE exemptions SET expires_at = expires_at + 1000000000000 WHERE id = 'exemption-1'`}, "", "expires_at"},
		{"add an approval", []string{`INSERT INTO approvals (exemption_id, approver, comment, at, identity) VALUES ('exemption-2', 'carol@company.com', '', 1, 'self-declared')`}, "", "approvals"},
		{"approve by hand", []string{`UPDATE exemptions SET status = 'approved' WHERE id = 'exemption-2'`}, "", `status: stored "approved"`},
		{"edit a reason in the audit log", []string{`UPDATE audit_log SET details = REPLACE(details, 'Legacy', 'Forever') WHERE seq = 1`}, "changed", ""},
		{"delete an audit row", []string{`DELETE FROM audit_log WHERE seq = 2`}, "removed", ""},
		{"delete the last audit row", []string{`DELETE FROM audit_log WHERE seq = 4`}, "removed", ""},
		{"swap two audit rows", []string{
			`UPDATE audit_log SET seq = 100 WHERE seq = 2`,
			`UPDATE audit_log SET seq = 2 WHERE seq = 3`,
			`UPDATE audit_log SET seq = 3 WHERE seq = 100`}, "reordered", ""},
		{"garbage in a stored column", []string{`UPDATE exemptions SET approvers = 'garbage' WHERE id = 'exemption-1'`}, "", "exemption exemption-1 cannot be read: approvers"},
		{"delete an exemption", []string{`DELETE FROM approvals WHERE exemption_id = 'exemption-1'`, `DELETE FROM exemptions WHERE id = 'exemption-1'`}, "", "no longer stored"},
	}
	for _, b := range storetest.Backends(pg, pgSkip) {
		t.Run(b.Name, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					ctx := context.Background()
					url := b.NewURL(t)
					svc := governance.New(openStore(t, url), governance.WithGovernance(gov(1, "security-team")))
					e, _ := svc.Request(ctx, request())                           // 1
					svc.Approve(ctx, e.ID, self("alice@company.com"), "fine")     // 2
					e2, _ := svc.Request(ctx, request())                          // 3
					svc.Revoke(ctx, e2.ID, self("dev@company.com"), "not needed") // 4
					mustVerify(t, svc)
					raw := storetest.Raw(t, url)
					for _, q := range tc.sql {
						if _, err := raw.ExecContext(ctx, q); err != nil {
							t.Fatalf("%s: %v", q, err)
						}
					}
					rep, err := svc.Verify(ctx)
					if err != nil {
						t.Fatal(err)
					}
					if rep.OK() {
						t.Fatal("tampering not detected")
					}
					if tc.chain != "" && (rep.Chain == nil || rep.Chain.Problem != tc.chain) {
						t.Errorf("chain: %v, want %s", rep.Chain, tc.chain)
					}
					if tc.chain == "" && rep.Chain != nil {
						t.Errorf("chain broken by a state-only edit: %v", rep.Chain)
					}
					if tc.state != "" && !strings.Contains(strings.Join(rep.Mismatches, "\n"), tc.state) {
						t.Errorf("mismatches %q, want %q", rep.Mismatches, tc.state)
					}
				})
			}
		})
	}
}

// TestConcurrentApprovals: two approvers at the same moment on two store
// handles: both approvals land, once each; the same person approving from
// many handles at once lands once.
func TestConcurrentApprovals(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		ctx := context.Background()
		g := gov(3, "security-team")
		svcs := []*governance.Service{
			governance.New(openStore(t, url), governance.WithGovernance(g)),
			governance.New(openStore(t, url), governance.WithGovernance(g)),
			governance.New(openStore(t, url), governance.WithGovernance(g)),
		}
		for round := range 5 {
			e, err := svcs[0].Request(ctx, request())
			if err != nil {
				t.Fatal(err)
			}
			people := []string{"alice@company.com", "bob@company.com", "carol@company.com"}
			var wg sync.WaitGroup
			errs := make([]error, len(people))
			start := make(chan struct{})
			for i, p := range people {
				wg.Go(func() {
					<-start
					_, errs[i] = svcs[i].Approve(ctx, e.ID, self(p), fmt.Sprint("round ", round))
				})
			}
			close(start)
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("round %d: %s: %v", round, people[i], err)
				}
			}
			got, _ := svcs[1].Get(ctx, e.ID)
			if got.Status != store.StatusApproved || len(got.Approvals) != 3 {
				t.Fatalf("round %d: %s with %d approvals", round, got.Status, len(got.Approvals))
			}

			// The same person from every handle at once: exactly one lands.
			e2, _ := svcs[0].Request(ctx, request())
			ok := make([]bool, 6)
			start = make(chan struct{})
			for i := range ok {
				wg.Go(func() {
					<-start
					_, err := svcs[i%len(svcs)].Approve(ctx, e2.ID, self("alice@company.com"), "")
					ok[i] = err == nil
					if err != nil && !errors.Is(err, store.ErrDuplicateApproval) {
						t.Errorf("duplicate approval failed with %v", err)
					}
				})
			}
			close(start)
			wg.Wait()
			n := 0
			for _, o := range ok {
				if o {
					n++
				}
			}
			got, _ = svcs[2].Get(ctx, e2.ID)
			if n != 1 || len(got.Approvals) != 1 {
				t.Fatalf("round %d: %d calls succeeded, %d approvals stored; want 1", round, n, len(got.Approvals))
			}
		}
		mustVerify(t, svcs[0])
	})
}

// childWriter is the child of TestKill9: it files requests and approvals
// as fast as it can, printing each id after its transaction committed,
// until it is killed.
func childWriter(url string) int {
	ctx := context.Background()
	st, err := store.Open(ctx, url)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	svc := governance.New(st, governance.WithGovernance(gov(1, "security-team")))
	w := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		e, err := svc.Request(ctx, request())
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if _, err := svc.Approve(ctx, e.ID, self("alice@company.com"), fmt.Sprint(i)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Fprintln(w, "ack", e.ID)
		w.Flush()
	}
}

// TestKill9 kills a writing process mid-stream; everything it
// acknowledged must be there and the chain must verify.
func TestKill9(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), "ATTEST_STORE_CHILD="+url)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		var acked []string
		for sc.Scan() {
			acked = append(acked, strings.TrimPrefix(sc.Text(), "ack "))
			if len(acked) == 40 {
				// Killed while it is writing the next ones.
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				break
			}
		}
		for sc.Scan() {
			acked = append(acked, strings.TrimPrefix(sc.Text(), "ack "))
		}
		werr := cmd.Wait()
		if len(acked) < 40 {
			t.Fatalf("child acknowledged only %d writes: %v\n%s", len(acked), werr, stderr.String())
		}
		ctx := context.Background()
		svc := governance.New(openStore(t, url), governance.WithGovernance(gov(1, "security-team")))
		for _, id := range acked {
			e, err := svc.Get(ctx, id)
			if err != nil || e.Status != store.StatusApproved {
				t.Fatalf("acknowledged %s after the kill: %+v %v", id, e.Status, err)
			}
		}
		mustVerify(t, svc)
	})
}

func TestCachedProvider(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	url := "sqlite://" + filepath.Join(t.TempDir(), "attest.db")
	svc := governance.New(openStore(t, url), governance.WithGovernance(gov(1, "security-team")), governance.WithClock(clk.now))
	e, _ := svc.Request(ctx, request())
	if _, err := svc.Approve(ctx, e.ID, self("bob@company.com"), ""); err != nil {
		t.Fatal(err)
	}
	c := governance.NewCached(svc, time.Minute, governance.WithCacheClock(clk.now))
	if list, _ := c.Exemptions(ctx); len(list) != 1 {
		t.Fatalf("cached: %d", len(list))
	}
	if _, err := svc.Revoke(ctx, e.ID, self("bob@company.com"), "done"); err != nil {
		t.Fatal(err)
	}
	if list, _ := c.Exemptions(ctx); len(list) != 1 {
		t.Fatalf("within the TTL the cache answers: %d", len(list))
	}
	clk.add(time.Minute)
	if list, _ := c.Exemptions(ctx); len(list) != 0 {
		t.Fatalf("after the TTL a revoked exemption still applies")
	}
	e2, _ := svc.Request(ctx, request())
	svc.Approve(ctx, e2.ID, self("bob@company.com"), "")
	if list, _ := c.Exemptions(ctx); len(list) != 0 {
		t.Fatalf("the cache read again within the TTL")
	}
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if list, _ := c.Exemptions(ctx); len(list) != 1 {
		t.Fatalf("after Refresh: %d", len(list))
	}
	failing := governance.NewCached(exemption.ProviderFunc(func(context.Context) ([]exemption.Exemption, error) {
		return nil, errors.New("store down")
	}), time.Minute)
	if _, err := failing.Exemptions(ctx); err == nil {
		t.Fatal("a failed read was hidden")
	}
}

func TestExportLoads(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	svc := governance.New(openStore(t, "sqlite://"+filepath.Join(t.TempDir(), "a.db")), governance.WithGovernance(gov(1, "security-team")), governance.WithClock(clk.now))
	r := request()
	r.Rule = "privileged-container"
	e, _ := svc.Request(ctx, r)
	svc.Approve(ctx, e.ID, self("alice@company.com"), "")
	o := request()
	o.Resource = "ClusterRole/legacy-reader"
	o.Duration = "4h"
	e2, _ := svc.Override(ctx, o)
	svc.Approve(ctx, e2.ID, self("alice@company.com"), "")
	svc.Approve(ctx, e2.ID, self("bob@company.com"), "")
	svc.Request(ctx, request()) // pending: not exported
	list, _ := svc.List(ctx, "")
	b, err := svc.Export(list)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "exemptions.yaml")
	os.WriteFile(path, b, 0o600)
	got, errs := exemption.LoadFile(path)
	if len(errs) != 0 || len(got) != 2 {
		t.Fatalf("LoadFile: %d exemptions, %v\n%s", len(got), errs, b)
	}
	if got[0].ID != "exemption-1" || got[0].Rule != "privileged-container" || got[0].Namespace != "monitoring" || got[0].ApprovedBy != "alice@company.com" {
		t.Errorf("first: %+v", got[0])
	}
	if !got[1].Emergency || got[1].Namespace != "" || got[1].Kind != "ClusterRole" {
		t.Errorf("override: %+v", got[1])
	}
	if err := exemption.Validate(got[0], clk.now()); err != nil {
		t.Errorf("exported exemption not honoured: %v", err)
	}
}

// FuzzRequestParsers feeds the parsers behind --resource and --duration:
// no panic, and what parses prints back to something that parses the same.
func FuzzRequestParsers(f *testing.F) {
	for _, s := range []string{"Pod/monitoring/legacy-app", "ClusterRole/x", "30d", "1w3d", "1.5d", "-1h", "Pod//x", "a/b/c/d", "", "9999999999999d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ref, err := exemption.ParseResourceRef(s); err == nil {
			again, err := exemption.ParseResourceRef(ref.String())
			if err != nil || again != ref {
				t.Fatalf("%q -> %v -> %v, %v", s, ref, again, err)
			}
		}
		if d, err := config.ParseDuration(s); err == nil {
			again, err := config.ParseDuration(d.String())
			if err != nil || again != d {
				t.Fatalf("%q -> %v -> %v, %v", s, d, again, err)
			}
		}
	})
}

// TestVerifyWhileOthersWrite: verify reads the log, its head and the
// exemptions in one transaction, so writers between the reads cannot make
// a sound log look cut short or edited, and verify and writers do not
// block each other for good.
func TestVerifyWhileOthersWrite(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		ctx := context.Background()
		svc := governance.New(openStore(t, url), governance.WithGovernance(gov(1, "security-team")))
		writers := make(chan error, 2)
		for range 2 {
			go func() {
				for range 15 {
					e, err := svc.Request(ctx, request())
					if err == nil {
						_, err = svc.Approve(ctx, e.ID, self("alice@company.com"), "")
					}
					if err != nil {
						writers <- err
						return
					}
				}
				writers <- nil
			}()
		}
		for done := 0; done < 2; {
			select {
			case err := <-writers:
				if err != nil {
					t.Fatal(err)
				}
				done++
			default:
				mustVerify(t, svc)
			}
		}
		mustVerify(t, svc)
	})
}

package store_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/continuums/attest/internal/store"
	"github.com/continuums/attest/internal/store/storetest"
)

var (
	pg     *storetest.Postgres
	pgSkip string
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m, &pg, &pgSkip)) }

// TestConformance runs the same suite against every backend.
func TestConformance(t *testing.T) {
	for _, b := range storetest.Backends(pg, pgSkip) {
		t.Run(b.Name, func(t *testing.T) { conformance(t, b) })
	}
}

func conformance(t *testing.T, b storetest.Backend) {
	ctx := context.Background()
	url := b.NewURL(t)
	open := func() store.Store {
		t.Helper()
		s, err := store.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	s := open()
	if s.Backend() != b.Name {
		t.Errorf("Backend() = %q, want %q", s.Backend(), b.Name)
	}
	if v, err := s.SchemaVersion(ctx); err != nil || v != 1 {
		t.Fatalf("schema version %d, %v; want 1", v, err)
	}
	// Reopening runs no migration twice.
	if v, err := open().SchemaVersion(ctx); err != nil || v != 1 {
		t.Fatalf("after reopening: schema version %d, %v", v, err)
	}

	at := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
	ex := store.Exemption{Policy: "attest-security", Rule: "privileged-container", Kind: "Pod", Namespace: "monitoring",
		Name: "legacy", Reason: "migration", Duration: 30 * 24 * time.Hour, Approvers: []string{"security-team"},
		RequestedBy: "dev@company.com", Status: store.StatusPending, RequestedAt: at, ExpiresAt: at.Add(720 * time.Hour), UpdatedAt: at}
	err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		id, err := tx.NextID(ctx)
		if err != nil {
			return err
		}
		if id != "exemption-1" {
			t.Errorf("first id %q", id)
		}
		ex.ID = id
		if err := tx.Put(ctx, ex); err != nil {
			return err
		}
		_, err = tx.Append(ctx, store.AuditEntry{At: at, Action: "request", Exemption: id, Actor: "dev@company.com", Identity: "self-declared", Details: `{"a":1}`})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Exemption(ctx, "exemption-1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Reason != "migration" || !got.ExpiresAt.Equal(ex.ExpiresAt) || got.Duration != ex.Duration || got.Rule != ex.Rule || len(got.Approvers) != 1 {
		t.Errorf("round trip: %+v", got)
	}
	if !got.RequestedAt.Equal(at) {
		t.Errorf("times are kept to the nanosecond: %v != %v", got.RequestedAt, at)
	}

	// A failing transaction leaves nothing behind, audit entry included.
	boom := errors.New("boom")
	err = s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		e := ex
		e.ID = "exemption-2"
		if err := tx.Put(ctx, e); err != nil {
			return err
		}
		if _, err := tx.Append(ctx, store.AuditEntry{At: at, Action: "request", Exemption: "exemption-2", Details: "{}"}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update error %v, want boom", err)
	}
	if _, err := s.Exemption(ctx, "exemption-2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("rolled-back exemption: %v, want ErrNotFound", err)
	}

	// One approval per person, enforced by the database.
	add := func(by string) error {
		return s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			return tx.AddApproval(ctx, "exemption-1", store.Approval{By: by, At: at, Identity: "self-declared"})
		})
	}
	if err := add("alice@company.com"); err != nil {
		t.Fatal(err)
	}
	if err := add("alice@company.com"); !errors.Is(err, store.ErrDuplicateApproval) {
		t.Errorf("second approval by the same person: %v", err)
	}
	if err := add("bob@company.com"); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Exemption(ctx, "exemption-1")
	if len(got.Approvals) != 2 || got.Approvals[0].By != "alice@company.com" {
		t.Errorf("approvals %+v", got.Approvals)
	}

	// Updating replaces the row; listing filters by status.
	got.Status = store.StatusApproved
	if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.Put(ctx, got) }); err != nil {
		t.Fatal(err)
	}
	for st, want := range map[store.Status]int{"": 1, store.StatusApproved: 1, store.StatusPending: 0} {
		list, err := s.Exemptions(ctx, store.Filter{Status: st})
		if err != nil || len(list) != want {
			t.Errorf("list %q: %d, %v; want %d", st, len(list), err, want)
		}
	}

	// The chain: entries link, the head follows, Audit filters by time.
	for i := range 3 {
		if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			_, err := tx.Append(ctx, store.AuditEntry{At: at.Add(time.Duration(i+1) * time.Hour), Action: "approve", Exemption: "exemption-1", Details: "{}"})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := s.Audit(ctx, time.Time{})
	if err != nil || len(entries) != 4 {
		t.Fatalf("audit: %d entries, %v", len(entries), err)
	}
	head, err := s.Head(ctx)
	if err != nil || head.Seq != 4 || head.Hash != entries[3].Hash {
		t.Fatalf("head %+v, %v", head, err)
	}
	if cerr := store.VerifyChain(entries, head); cerr != nil {
		t.Fatalf("fresh chain: %v", cerr)
	}
	if since, _ := s.Audit(ctx, at.Add(2*time.Hour)); len(since) != 2 {
		t.Errorf("since: %d entries, want 2", len(since))
	}
	if _, err := s.Exemption(ctx, "exemption-99"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown id: %v", err)
	}
}

func chainOf(n int) ([]store.AuditEntry, store.Head) {
	var out []store.AuditEntry
	prev := ""
	for i := range n {
		e := store.AuditEntry{Seq: int64(i + 1), At: time.Unix(int64(i), 0).UTC(), Action: "request", Exemption: "exemption-1", Details: "{}", PrevHash: prev}
		e.Hash = store.Hash(e)
		prev = e.Hash
		out = append(out, e)
	}
	return out, store.Head{Seq: int64(n), Hash: prev}
}

func TestVerifyChain(t *testing.T) {
	tests := []struct {
		name    string
		tamper  func([]store.AuditEntry, store.Head) ([]store.AuditEntry, store.Head)
		seq     int64
		problem string
	}{
		{"intact", func(e []store.AuditEntry, h store.Head) ([]store.AuditEntry, store.Head) { return e, h }, 0, ""},
		{"edited", func(e []store.AuditEntry, h store.Head) ([]store.AuditEntry, store.Head) {
			e[2].Actor = "mallory"
			return e, h
		}, 3, "changed"},
		{"edited with its hash recomputed", func(e []store.AuditEntry, h store.Head) ([]store.AuditEntry, store.Head) {
			e[2].Actor = "mallory"
			e[2].Hash = store.Hash(e[2])
			return e, h
		}, 3, "changed"},
		{"removed", func(e []store.AuditEntry, h store.Head) ([]store.AuditEntry, store.Head) {
			return append(e[:2], e[3:]...), h
		}, 3, "removed"},
		{"removed from the end", func(e []store.AuditEntry, h store.Head) ([]store.AuditEntry, store.Head) {
			return e[:4], h
		}, 5, "removed"},
		{"swapped", func(e []store.AuditEntry, h store.Head) ([]store.AuditEntry, store.Head) {
			e[1], e[2] = e[2], e[1]
			e[1].Seq, e[2].Seq = 2, 3
			return e, h
		}, 2, "reordered"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, h := tc.tamper(chainOf(5))
			err := store.VerifyChain(e, h)
			if tc.problem == "" {
				if err != nil {
					t.Fatalf("intact chain: %v", err)
				}
				return
			}
			if err == nil || err.Seq != tc.seq || err.Problem != tc.problem {
				t.Fatalf("got %v, want entry %d %s", err, tc.seq, tc.problem)
			}
		})
	}
}

func TestParseURL(t *testing.T) {
	tests := []struct{ in, backend, target, err string }{
		{"sqlite:///var/lib/attest/attest.db", "sqlite", "/var/lib/attest/attest.db", ""},
		{"sqlite://rel/attest.db", "sqlite", "rel/attest.db", ""},
		{"sqlite:attest.db", "sqlite", "attest.db", ""},
		{"/tmp/x.db", "sqlite", "/tmp/x.db", ""},
		{"postgres://u@h:5432/db?sslmode=disable", "postgres", "postgres://u@h:5432/db?sslmode=disable", ""},
		{"postgresql://h/db", "postgres", "postgresql://h/db", ""},
		{"mysql://h/db", "", "", "unknown scheme"},
		{"", "", "", "empty store URL"},
		{"sqlite://", "", "", "names no database file"},
	}
	for _, tc := range tests {
		b, tg, err := store.ParseURL(tc.in)
		if tc.err != "" {
			if err == nil || !contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || b != tc.backend || tg != tc.target {
			t.Errorf("%q: %q %q %v", tc.in, b, tg, err)
		}
	}
}

func TestDefaultPath(t *testing.T) {
	env := map[string]string{"XDG_DATA_HOME": "/data", "HOME": "/home/u"}
	if p, _ := store.DefaultPath(func(k string) string { return env[k] }); p != "/data/attest/attest.db" {
		t.Errorf("with XDG_DATA_HOME: %s", p)
	}
	delete(env, "XDG_DATA_HOME")
	if p, _ := store.DefaultPath(func(k string) string { return env[k] }); p != "/home/u/.local/share/attest/attest.db" {
		t.Errorf("without: %s", p)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

package cli

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/continuums/attest/internal/governance"
	"github.com/continuums/attest/internal/store"
)

// TestAuditLogShowsATamperedHash: `attest audit log` is what one reads a
// suspect log with, so a hash cut short by hand is printed, not a panic
// (it sliced the first 12 characters of whatever was there).
func TestAuditLogShowsATamperedHash(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "st.db")
	st, err := store.Open(ctx, "sqlite://"+path)
	if err != nil {
		t.Fatal(err)
	}
	svc := governance.New(st)
	if _, err := svc.Request(ctx, governance.Request{Policy: "attest-security", Resource: "Pod/prod/api", Reason: "migration in progress",
		Duration: "7d", Approvers: []string{"alice@company.com"}, By: governance.Actor{Name: "dev@company.com", Identity: governance.IdentitySelfDeclared}}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE audit_log SET hash = 'abc' WHERE seq = 1`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	r := govExecute(t, "audit", "log", "--store", "sqlite://"+path)
	if r.code != 0 || !strings.Contains(r.stdout, "#1 ") || !strings.HasSuffix(strings.TrimSpace(r.stdout), " abc") {
		t.Fatalf("audit log: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

package store

import (
	"context"
	"fmt"
	"time"
)

// migrations are applied in order, each once, in its own transaction, and
// recorded in schema_migrations. Append new ones; never edit an applied one.
// The SQL is written for both SQLite and PostgreSQL (BIGINT/TEXT/INTEGER
// only; times are Unix nanoseconds, so both keep them exactly).
var migrations = []string{
	1: `
CREATE TABLE exemptions (
	id               TEXT PRIMARY KEY,
	num              BIGINT NOT NULL UNIQUE,
	policy           TEXT NOT NULL,
	rule             TEXT NOT NULL,
	kind             TEXT NOT NULL,
	namespace        TEXT NOT NULL,
	name             TEXT NOT NULL,
	reason           TEXT NOT NULL,
	duration_ns      BIGINT NOT NULL,
	approvers        TEXT NOT NULL,
	requested_by     TEXT NOT NULL,
	emergency        INTEGER NOT NULL,
	status           TEXT NOT NULL,
	requested_at     BIGINT NOT NULL,
	expires_at       BIGINT NOT NULL,
	updated_at       BIGINT NOT NULL,
	decided_by       TEXT NOT NULL,
	decision_comment TEXT NOT NULL
);
CREATE INDEX exemptions_status ON exemptions (status, expires_at);
CREATE TABLE approvals (
	exemption_id TEXT NOT NULL REFERENCES exemptions (id),
	approver     TEXT NOT NULL,
	comment      TEXT NOT NULL,
	at           BIGINT NOT NULL,
	identity     TEXT NOT NULL,
	PRIMARY KEY (exemption_id, approver)
);
CREATE TABLE audit_log (
	seq          BIGINT PRIMARY KEY,
	at           BIGINT NOT NULL,
	action       TEXT NOT NULL,
	exemption_id TEXT NOT NULL,
	actor        TEXT NOT NULL,
	identity     TEXT NOT NULL,
	details      TEXT NOT NULL,
	prev_hash    TEXT NOT NULL,
	hash         TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE TABLE audit_head (
	id   INTEGER PRIMARY KEY,
	seq  BIGINT NOT NULL,
	hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '');
`,
}

// migrate brings the schema up to date. It runs under the writers' lock,
// so two processes starting at once apply each migration once.
func (s *sqlStore) migrate(ctx context.Context) error {
	return s.Update(ctx, func(ctx context.Context, t Tx) error {
		tx := t.(*sqlTx)
		if _, err := tx.tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		var have int
		if err := tx.tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		if have >= len(migrations) {
			return fmt.Errorf("the store's schema is version %d, newer than this attest knows (%d): upgrade attest", have, len(migrations)-1)
		}
		for v := have + 1; v < len(migrations); v++ {
			if _, err := tx.tx.ExecContext(ctx, migrations[v]); err != nil {
				return fmt.Errorf("migration %d: %w", v, err)
			}
			if _, err := tx.exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, v, time.Now().UnixNano()); err != nil {
				return fmt.Errorf("record migration %d: %w", v, err)
			}
		}
		return nil
	})
}

func (s *sqlStore) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

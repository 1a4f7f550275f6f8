package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// dialect holds what differs between the backends; the SQL is shared.
type dialect struct {
	name string
	// dollar rewrites ? placeholders to $1, $2 (PostgreSQL).
	dollar bool
	// lock is run first in every write transaction to serialise writers
	// (empty for SQLite, whose BEGIN IMMEDIATE already does).
	lock string
	// isUnique says whether err is a unique-constraint violation.
	isUnique func(error) bool
}

type sqlStore struct {
	db *sql.DB
	d  dialect
}

func (s *sqlStore) Backend() string { return s.d.name }

func (s *sqlStore) Close() error { return s.db.Close() }

func (d dialect) rebind(q string) string {
	if !d.dollar {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (s *sqlStore) Update(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	if s.d.lock != "" {
		if _, err := tx.ExecContext(ctx, s.d.lock); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("store: take the writers' lock: %w", err)
		}
	}
	if err := fn(ctx, &sqlTx{tx: tx, d: s.d}); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// querier is what *sql.DB and *sql.Tx share.
type querier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

type sqlTx struct {
	tx *sql.Tx
	d  dialect
}

func (t *sqlTx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(ctx, t.d.rebind(q), args...)
}

func (t *sqlTx) NextID(ctx context.Context) (string, error) {
	var n int64
	if err := t.tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(num), 0) + 1 FROM exemptions`).Scan(&n); err != nil {
		return "", fmt.Errorf("store: next id: %w", err)
	}
	return FormatID(n), nil
}

func (t *sqlTx) Exemption(ctx context.Context, id string) (Exemption, error) {
	return getExemption(ctx, t.tx, t.d, id)
}

func (t *sqlTx) Exemptions(ctx context.Context, f Filter) ([]Exemption, error) {
	return listExemptions(ctx, t.tx, t.d, f)
}

func (t *sqlTx) Put(ctx context.Context, e Exemption) error {
	approvers, err := json.Marshal(nonNil(e.Approvers))
	if err != nil {
		return fmt.Errorf("store: encode approvers: %w", err)
	}
	args := []any{e.Policy, e.Rule, e.Kind, e.Namespace, e.Name, e.Reason, int64(e.Duration), string(approvers),
		e.RequestedBy, boolInt(e.Emergency), string(e.Status), nanos(e.RequestedAt), nanos(e.ExpiresAt), nanos(e.UpdatedAt),
		e.DecidedBy, e.DecisionComment}
	res, err := t.exec(ctx, `UPDATE exemptions SET policy = ?, rule = ?, kind = ?, namespace = ?, name = ?, reason = ?,
		duration_ns = ?, approvers = ?, requested_by = ?, emergency = ?, status = ?, requested_at = ?, expires_at = ?,
		updated_at = ?, decided_by = ?, decision_comment = ? WHERE id = ?`, append(args, e.ID)...)
	if err != nil {
		return fmt.Errorf("store: update %s: %w", e.ID, err)
	}
	if n, err := res.RowsAffected(); err == nil && n > 0 {
		return nil
	}
	if e.Num() <= 0 {
		return fmt.Errorf("store: bad exemption id %q", e.ID)
	}
	_, err = t.exec(ctx, `INSERT INTO exemptions (policy, rule, kind, namespace, name, reason, duration_ns, approvers,
		requested_by, emergency, status, requested_at, expires_at, updated_at, decided_by, decision_comment, id, num)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, append(args, e.ID, e.Num())...)
	if err != nil {
		return fmt.Errorf("store: insert %s: %w", e.ID, err)
	}
	return nil
}

func (t *sqlTx) AddApproval(ctx context.Context, id string, a Approval) error {
	_, err := t.exec(ctx, `INSERT INTO approvals (exemption_id, approver, comment, at, identity) VALUES (?, ?, ?, ?, ?)`,
		id, a.By, a.Comment, nanos(a.At), a.Identity)
	if err != nil {
		if t.d.isUnique(err) {
			return fmt.Errorf("%s by %s: %w", id, a.By, ErrDuplicateApproval)
		}
		return fmt.Errorf("store: add approval to %s: %w", id, err)
	}
	return nil
}

func (t *sqlTx) Append(ctx context.Context, e AuditEntry) (AuditEntry, error) {
	var head Head
	if err := t.tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&head.Seq, &head.Hash); err != nil {
		return AuditEntry{}, fmt.Errorf("store: read the audit head: %w", err)
	}
	e.Seq = head.Seq + 1
	e.At = e.At.UTC()
	e.PrevHash = head.Hash
	e.Hash = Hash(e)
	if _, err := t.exec(ctx, `INSERT INTO audit_log (seq, at, action, exemption_id, actor, identity, details, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.Seq, nanos(e.At), e.Action, e.Exemption, e.Actor, e.Identity, e.Details, e.PrevHash, e.Hash); err != nil {
		return AuditEntry{}, fmt.Errorf("store: append audit entry: %w", err)
	}
	if _, err := t.exec(ctx, `UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1`, e.Seq, e.Hash); err != nil {
		return AuditEntry{}, fmt.Errorf("store: move the audit head: %w", err)
	}
	return e, nil
}

func (s *sqlStore) Exemption(ctx context.Context, id string) (Exemption, error) {
	return getExemption(ctx, s.db, s.d, id)
}

func (s *sqlStore) Exemptions(ctx context.Context, f Filter) ([]Exemption, error) {
	return listExemptions(ctx, s.db, s.d, f)
}

func (s *sqlStore) Audit(ctx context.Context, since time.Time) ([]AuditEntry, error) {
	return readAudit(ctx, s.db, s.d, since)
}

func (t *sqlTx) Audit(ctx context.Context, since time.Time) ([]AuditEntry, error) {
	return readAudit(ctx, t.tx, t.d, since)
}

func readAudit(ctx context.Context, db querier, d dialect, since time.Time) ([]AuditEntry, error) {
	q := `SELECT seq, at, action, exemption_id, actor, identity, details, prev_hash, hash FROM audit_log`
	var args []any
	if !since.IsZero() {
		q += ` WHERE at >= ?`
		args = append(args, nanos(since))
	}
	rows, err := db.QueryContext(ctx, d.rebind(q+` ORDER BY seq`), args...)
	if err != nil {
		return nil, fmt.Errorf("store: read the audit log: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var at int64
		if err := rows.Scan(&e.Seq, &at, &e.Action, &e.Exemption, &e.Actor, &e.Identity, &e.Details, &e.PrevHash, &e.Hash); err != nil {
			return nil, fmt.Errorf("store: read the audit log: %w", &CorruptError{Row: fmt.Sprintf("audit entry after %d", lastSeq(out)), Err: err})
		}
		e.At = fromNanos(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: read the audit log: %w", err)
	}
	return out, nil
}

func (s *sqlStore) Head(ctx context.Context) (Head, error) { return readHead(ctx, s.db) }

func (t *sqlTx) Head(ctx context.Context) (Head, error) { return readHead(ctx, t.tx) }

func readHead(ctx context.Context, db querier) (Head, error) {
	var h Head
	if err := db.QueryRowContext(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&h.Seq, &h.Hash); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Head{}, nil
		}
		return Head{}, fmt.Errorf("store: read the audit head: %w", err)
	}
	return h, nil
}

const exemptionColumns = `id, policy, rule, kind, namespace, name, reason, duration_ns, approvers, requested_by, emergency,
	status, requested_at, expires_at, updated_at, decided_by, decision_comment`

func scanExemption(sc interface{ Scan(...any) error }) (Exemption, error) {
	var e Exemption
	var dur, req, exp, upd int64
	var emergency int
	var approvers, status string
	if err := sc.Scan(&e.ID, &e.Policy, &e.Rule, &e.Kind, &e.Namespace, &e.Name, &e.Reason, &dur, &approvers,
		&e.RequestedBy, &emergency, &status, &req, &exp, &upd, &e.DecidedBy, &e.DecisionComment); err != nil {
		return Exemption{}, err
	}
	e.Duration = time.Duration(dur)
	e.Emergency = emergency != 0
	e.Status = Status(status)
	e.RequestedAt, e.ExpiresAt, e.UpdatedAt = fromNanos(req), fromNanos(exp), fromNanos(upd)
	if err := json.Unmarshal([]byte(approvers), &e.Approvers); err != nil {
		return Exemption{}, &CorruptError{Row: "exemption " + e.ID, Err: fmt.Errorf("approvers: %w", err)}
	}
	return e, nil
}

// CorruptError is a row the store cannot read back: written outside
// attest (attest writes only what it reads). audit verify reports it as
// tampering, not as a failure of its own.
type CorruptError struct {
	Row string
	Err error
}

func (e *CorruptError) Error() string { return e.Row + " cannot be read: " + e.Err.Error() }
func (e *CorruptError) Unwrap() error { return e.Err }

func lastSeq(entries []AuditEntry) int64 {
	if len(entries) == 0 {
		return 0
	}
	return entries[len(entries)-1].Seq
}

func getExemption(ctx context.Context, q querier, d dialect, id string) (Exemption, error) {
	e, err := scanExemption(q.QueryRowContext(ctx, d.rebind(`SELECT `+exemptionColumns+` FROM exemptions WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return Exemption{}, fmt.Errorf("%s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Exemption{}, fmt.Errorf("store: read %s: %w", id, err)
	}
	all := map[string]*Exemption{e.ID: &e}
	if err := loadApprovals(ctx, q, d, all, id); err != nil {
		return Exemption{}, err
	}
	return e, nil
}

func listExemptions(ctx context.Context, q querier, d dialect, f Filter) ([]Exemption, error) {
	query := `SELECT ` + exemptionColumns + ` FROM exemptions`
	var args []any
	if f.Status != "" {
		query += ` WHERE status = ?`
		args = append(args, string(f.Status))
	}
	rows, err := q.QueryContext(ctx, d.rebind(query+` ORDER BY num`), args...)
	if err != nil {
		return nil, fmt.Errorf("store: list exemptions: %w", err)
	}
	var out []Exemption
	for rows.Next() {
		e, err := scanExemption(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: list exemptions: %w", err)
		}
		out = append(out, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list exemptions: %w", err)
	}
	byID := make(map[string]*Exemption, len(out))
	for i := range out {
		byID[out[i].ID] = &out[i]
	}
	if err := loadApprovals(ctx, q, d, byID, ""); err != nil {
		return nil, err
	}
	return out, nil
}

// loadApprovals fills the approvals of the exemptions in byID (of only one
// when id is set), oldest first.
func loadApprovals(ctx context.Context, q querier, d dialect, byID map[string]*Exemption, id string) error {
	query := `SELECT exemption_id, approver, comment, at, identity FROM approvals`
	var args []any
	if id != "" {
		query += ` WHERE exemption_id = ?`
		args = append(args, id)
	}
	rows, err := q.QueryContext(ctx, d.rebind(query+` ORDER BY at, approver`), args...)
	if err != nil {
		return fmt.Errorf("store: read approvals: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var eid string
		var a Approval
		var at int64
		if err := rows.Scan(&eid, &a.By, &a.Comment, &at, &a.Identity); err != nil {
			return fmt.Errorf("store: read approvals: %w", err)
		}
		a.At = fromNanos(at)
		if e := byID[eid]; e != nil {
			e.Approvals = append(e.Approvals, a)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: read approvals: %w", err)
	}
	return nil
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Package store keeps governed exemptions and their audit trail. One
// interface, two backends on database/sql: SQLite (modernc.org/sqlite, the
// embedded default) and PostgreSQL (pgx, for several server replicas). Every
// write runs in one transaction that also appends its audit entry, and
// writers are serialised (BEGIN IMMEDIATE on SQLite, an advisory lock on
// PostgreSQL) so the audit log is one linear hash chain.
package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Status is where an exemption is in its life cycle.
type Status string

// The statuses. Pending moves to approved, rejected, revoked or expired;
// approved moves to revoked or expired; the others are final.
const (
	StatusPending  Status = "pending"
	StatusApproved Status = "approved"
	StatusRejected Status = "rejected"
	StatusRevoked  Status = "revoked"
	StatusExpired  Status = "expired"
)

// ParseStatus reads a status name.
func ParseStatus(s string) (Status, error) {
	switch st := Status(strings.ToLower(strings.TrimSpace(s))); st {
	case StatusPending, StatusApproved, StatusRejected, StatusRevoked, StatusExpired:
		return st, nil
	}
	return "", fmt.Errorf("unknown status %q (want pending, approved, rejected, expired or revoked)", s)
}

// Exemption is one governed exemption as stored. Its JSON form is also the
// snapshot every audit entry carries, so field names are part of the audit
// format: add fields, never rename them.
type Exemption struct {
	ID          string        `json:"id"`
	Policy      string        `json:"policy"`
	Rule        string        `json:"rule,omitempty"`
	Kind        string        `json:"kind"`
	Namespace   string        `json:"namespace,omitempty"`
	Name        string        `json:"name"`
	Reason      string        `json:"reason"`
	Duration    time.Duration `json:"duration_ns"`
	Approvers   []string      `json:"approvers"` // named on the request: people or teams
	RequestedBy string        `json:"requested_by"`
	Emergency   bool          `json:"emergency,omitempty"`
	Status      Status        `json:"status"`
	RequestedAt time.Time     `json:"requested_at"`
	ExpiresAt   time.Time     `json:"expires_at"`
	UpdatedAt   time.Time     `json:"updated_at"`
	// DecidedBy and DecisionComment say who rejected or revoked, and why.
	DecidedBy       string     `json:"decided_by,omitempty"`
	DecisionComment string     `json:"decision_comment,omitempty"`
	Approvals       []Approval `json:"approvals,omitempty"`
}

// Approval is one person's approval of an exemption.
type Approval struct {
	By       string    `json:"by"`
	Comment  string    `json:"comment,omitempty"`
	At       time.Time `json:"at"`
	Identity string    `json:"identity"` // how By was established: "self-declared", "token", ...
}

// Num is the number in the exemption's id ("exemption-12" -> 12).
func (e Exemption) Num() int64 {
	n, _ := strconv.ParseInt(strings.TrimPrefix(e.ID, IDPrefix), 10, 64)
	return n
}

// IDPrefix starts every exemption id.
const IDPrefix = "exemption-"

// FormatID gives the id of exemption number n.
func FormatID(n int64) string { return IDPrefix + strconv.FormatInt(n, 10) }

// AuditEntry is one link of the audit chain.
type AuditEntry struct {
	Seq       int64     `json:"seq"`
	At        time.Time `json:"at"`
	Action    string    `json:"action"` // request, override, approve, reject, revoke, expire
	Exemption string    `json:"exemption"`
	Actor     string    `json:"actor"`
	Identity  string    `json:"identity"` // "self-declared" on the command line
	// Details is canonical JSON written by the governance package; it is
	// hashed as stored, byte for byte.
	Details  string `json:"details"`
	PrevHash string `json:"prev_hash"`
	Hash     string `json:"hash"`
}

// Head is the last entry of the chain as recorded beside the log, so that
// removing entries from the end is noticed too.
type Head struct {
	Seq  int64
	Hash string
}

// ErrNotFound is returned for an unknown exemption id.
var ErrNotFound = errors.New("no such exemption")

// Filter selects exemptions; the zero Filter selects all.
type Filter struct {
	Status Status
}

// Store is the storage interface both backends implement.
type Store interface {
	// Update runs fn in one transaction. Writers are serialised: fn sees
	// every change committed before it, and no other writer runs until it
	// returns. An error from fn rolls everything back.
	Update(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error
	Exemption(ctx context.Context, id string) (Exemption, error)
	Exemptions(ctx context.Context, f Filter) ([]Exemption, error)
	// Audit lists the entries at or after since (zero: all), in chain order.
	Audit(ctx context.Context, since time.Time) ([]AuditEntry, error)
	Head(ctx context.Context) (Head, error)
	// SchemaVersion is the highest migration applied.
	SchemaVersion(ctx context.Context) (int, error)
	Backend() string // "sqlite" or "postgres"
	Close() error
}

// Tx is what a write transaction can do.
type Tx interface {
	// NextID gives the id of the next new exemption.
	NextID(ctx context.Context) (string, error)
	Exemption(ctx context.Context, id string) (Exemption, error)
	Exemptions(ctx context.Context, f Filter) ([]Exemption, error)
	// Put writes the exemption's row (inserting or replacing it);
	// approvals are added with AddApproval only.
	Put(ctx context.Context, e Exemption) error
	// AddApproval records an approval; a second approval by the same
	// person is refused by the database itself (ErrDuplicateApproval).
	AddApproval(ctx context.Context, id string, a Approval) error
	// Append links the entry to the chain (Seq, PrevHash, Hash are filled
	// in) and writes it.
	Append(ctx context.Context, e AuditEntry) (AuditEntry, error)
	// Audit and Head read the log as the transaction sees it, so a reader
	// of the log, its head and the exemptions sees one state of all three.
	Audit(ctx context.Context, since time.Time) ([]AuditEntry, error)
	Head(ctx context.Context) (Head, error)
}

// ErrDuplicateApproval is returned when a person approves twice.
var ErrDuplicateApproval = errors.New("already approved by this person")

// Open opens the store at url and brings its schema up to date:
// "sqlite:///abs/path.db", "sqlite://rel/path.db", a plain file path
// (SQLite), or "postgres://..." / "postgresql://...".
func Open(ctx context.Context, rawURL string) (Store, error) {
	kind, target, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	switch kind {
	case "sqlite":
		return openSQLite(ctx, target)
	default:
		return openPostgres(ctx, target)
	}
}

// ParseURL says which backend a store URL names and what to hand it: the
// database file for SQLite, the URL itself for PostgreSQL.
func ParseURL(rawURL string) (backend, target string, err error) {
	s := strings.TrimSpace(rawURL)
	if s == "" {
		return "", "", errors.New("empty store URL (want sqlite:///path/attest.db or postgres://user@host/db)")
	}
	if !strings.Contains(s, "://") {
		return "sqlite", strings.TrimPrefix(s, "sqlite:"), nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", "", fmt.Errorf("store URL %q: %w", rawURL, err)
	}
	switch u.Scheme {
	case "sqlite", "sqlite3", "file":
		p := u.Host + u.Path
		if p == "" {
			return "", "", fmt.Errorf("store URL %q names no database file", rawURL)
		}
		return "sqlite", p, nil
	case "postgres", "postgresql":
		return "postgres", s, nil
	}
	return "", "", fmt.Errorf("store URL %q: unknown scheme %q (want sqlite or postgres)", rawURL, u.Scheme)
}

// DefaultPath is the embedded store's file: $XDG_DATA_HOME/attest/attest.db,
// else ~/.local/share/attest/attest.db. getenv is os.Getenv in production.
func DefaultPath(getenv func(string) string) (string, error) {
	if d := getenv("XDG_DATA_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "attest", "attest.db"), nil
	}
	home := getenv("HOME")
	if home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("no data directory for the store: %w", err)
		}
		home = h
	}
	return filepath.Join(home, ".local", "share", "attest", "attest.db"), nil
}

// DefaultURL is DefaultPath as a store URL.
func DefaultURL(getenv func(string) string) (string, error) {
	p, err := DefaultPath(getenv)
	if err != nil {
		return "", err
	}
	return "sqlite://" + p, nil
}

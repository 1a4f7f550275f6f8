package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/continuums/attest/internal/exemption"
	"github.com/continuums/attest/internal/governance"
	"github.com/continuums/attest/internal/store"
)

// DefaultExemptionSync is how often the server asks the cached store
// provider for the approved exemptions (the cache's own TTL decides how
// often that reaches the database).
const DefaultExemptionSync = 10 * time.Second

// govOptions configure the exemption endpoints and how store exemptions
// reach admission.
type govOptions struct {
	st        store.Store
	cache     *governance.Cached
	clientCAs *x509.CertPool
	now       func() time.Time
	sync      time.Duration
}

// WithApprovalStore serves the exemption and audit endpoints on st, and
// applies the approved exemptions that cache (a governance.Cached over
// st, also given to the project as StoreExemptions) reads, without a
// restart.
func WithApprovalStore(st store.Store, cache *governance.Cached) Option {
	return func(o *options) { o.gov.st, o.gov.cache = st, cache }
}

// WithClientCAs accepts client certificates issued by pool as identities
// on the exemption endpoints (needs TLS).
func WithClientCAs(pool *x509.CertPool) Option { return func(o *options) { o.gov.clientCAs = pool } }

// WithGovernanceClock sets the workflow's clock (default time.Now).
func WithGovernanceClock(now func() time.Time) Option { return func(o *options) { o.gov.now = now } }

// WithExemptionSync sets how often store exemptions are synced into the
// policies in use (0: only after changes made through this server and on
// SyncExemptions).
func WithExemptionSync(d time.Duration) Option { return func(o *options) { o.gov.sync = d } }

// govState is what the sync remembers; guarded by Server.reload.
type govState struct {
	appliedTo  *Snapshot // the snapshot the last sync produced
	appliedKey string
}

// configureClientAuth asks TLS clients for a certificate when client CAs
// are configured; it is verified per request (certIdentity), never at the
// handshake.
func (s *Server) configureClientAuth(c *tls.Config) {
	if s.o.gov.clientCAs != nil {
		c.ClientAuth = tls.RequestClientCert
	}
}

// SyncExemptions makes the policies in use apply the store's approved
// exemptions as the cache has them now (force: read the store first).
// Only the exemption matcher is rebuilt, nothing is compiled, and only
// when the list changed. A store that cannot be read makes no store
// exemption apply (fail closed): one may have been revoked meanwhile.
func (s *Server) SyncExemptions(ctx context.Context, force bool) error {
	c := s.o.gov.cache
	if c == nil {
		return nil
	}
	s.reload.Lock()
	defer s.reload.Unlock()
	snap := s.state.Load()
	if snap == nil {
		return nil
	}
	var list []exemption.Exemption
	var err error
	if force {
		err = c.Refresh(ctx)
	}
	if err == nil {
		list, err = c.Exemptions(ctx)
	}
	key := exemptionsKey(list)
	if err != nil {
		s.log.LogAttrs(ctx, slog.LevelError, "approval store unreadable: store exemptions do not apply until it is back", slog.String("error", err.Error()))
		list, key = nil, "unreadable"
	}
	if s.govState.appliedTo == snap && s.govState.appliedKey == key {
		return err
	}
	np, perr := snap.Project.WithStoreExemptions(ctx, list)
	if perr != nil {
		s.log.LogAttrs(ctx, slog.LevelError, "store exemptions not applied; the exemptions in use stay", slog.String("error", perr.Error()))
		return perr
	}
	next := *snap
	next.Project = np
	s.state.Store(&next)
	s.govState.appliedTo, s.govState.appliedKey = &next, key
	s.log.LogAttrs(ctx, slog.LevelInfo, "store exemptions applied", slog.Int("exemptions", len(list)))
	return err
}

// exemptionsKey identifies a list by what the matcher uses of it.
func exemptionsKey(list []exemption.Exemption) string {
	parts := make([]string, len(list))
	for i, e := range list {
		parts[i] = strings.Join([]string{e.ID, e.Policy, e.Rule, e.Kind, e.Namespace, e.Name, e.ApprovedBy, e.ExpiresAt.UTC().Format(time.RFC3339Nano), boolStr(e.Emergency)}, "\x00")
	}
	sort.Strings(parts)
	return strings.Join(parts, "\x01")
}

func boolStr(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// startExemptionSync syncs store exemptions every sync interval until ctx
// ends; the returned func waits for it to stop.
func (s *Server) startExemptionSync(ctx context.Context) (wait func()) {
	done := make(chan struct{})
	if s.o.gov.cache == nil || s.o.gov.sync <= 0 {
		close(done)
		return func() { <-done }
	}
	go func() {
		defer close(done)
		t := time.NewTicker(s.o.gov.sync)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				_ = s.SyncExemptions(ctx, false)
			}
		}
	}()
	return func() { <-done }
}

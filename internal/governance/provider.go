package governance

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/continuums/attest/internal/exemption"
	"github.com/continuums/attest/internal/finding"
	"github.com/continuums/attest/internal/store"
)

var timeZero time.Time

// Exemptions gives the approved, unexpired exemptions as the check applies
// them (Source "store", Emergency kept). It only reads: expiry is decided
// by the clock here, and recorded by the commands that write.
func (s *Service) Exemptions(ctx context.Context) ([]exemption.Exemption, error) {
	list, err := s.st.Exemptions(ctx, store.Filter{Status: store.StatusApproved})
	if err != nil {
		return nil, err
	}
	now := s.clock()
	var out []exemption.Exemption
	for _, e := range list {
		if !now.Before(e.ExpiresAt) {
			continue
		}
		out = append(out, ToExemption(e))
	}
	return out, nil
}

// ToExemption converts a stored exemption to the check's form.
func ToExemption(e store.Exemption) exemption.Exemption {
	var by []string
	for _, a := range e.Approvals {
		by = append(by, a.By)
	}
	return exemption.Exemption{
		ID: e.ID, Source: exemption.SourceStore,
		Policy: e.Policy, Rule: e.Rule,
		Kind: e.Kind, Namespace: e.Namespace, Name: e.Name,
		Reason: e.Reason, ApprovedBy: strings.Join(by, ", "),
		ExpiresAt: e.ExpiresAt, Emergency: e.Emergency,
		Location: finding.Location{File: "store:" + e.ID},
	}
}

// Cached is an exemption.Provider that reads through to another at most
// once per TTL, so a long-running server sees a revocation within the TTL
// (or at once after Refresh) without a restart, and a busy one does not
// query the store for every review.
type Cached struct {
	src exemption.Provider
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	list    []exemption.Exemption
	fetched time.Time
	valid   bool
}

// CacheOption configures Cached.
type CacheOption func(*Cached)

// WithCacheClock sets the clock the TTL is measured with (default time.Now).
func WithCacheClock(now func() time.Time) CacheOption { return func(c *Cached) { c.now = now } }

// NewCached wraps src with a cache of the given TTL (0: no caching).
func NewCached(src exemption.Provider, ttl time.Duration, opts ...CacheOption) *Cached {
	c := &Cached{src: src, ttl: ttl, now: time.Now}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Exemptions gives the cached list, reading the source again when the
// TTL has passed. A failed read is returned, not papered over with a stale
// list: an exemption that may have been revoked must not keep applying.
func (c *Cached) Exemptions(ctx context.Context) ([]exemption.Exemption, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.valid && c.now().Sub(c.fetched) < c.ttl {
		return c.list, nil
	}
	return c.refreshLocked(ctx)
}

// Refresh reads the source now.
func (c *Cached) Refresh(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err := c.refreshLocked(ctx)
	return err
}

func (c *Cached) refreshLocked(ctx context.Context) ([]exemption.Exemption, error) {
	list, err := c.src.Exemptions(ctx)
	if err != nil {
		c.valid = false
		return nil, err
	}
	c.list, c.fetched, c.valid = list, c.now(), true
	return list, nil
}

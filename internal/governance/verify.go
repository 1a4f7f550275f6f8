package governance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"

	"github.com/continuums/attest/internal/store"
)

// Report is what Verify found.
type Report struct {
	Entries    int
	Exemptions int
	// Chain is the first break in the hash chain, or nil.
	Chain *store.ChainError
	// Mismatches are exemptions whose stored state differs from what
	// replaying the log gives (a row edited outside attest).
	Mismatches []string
}

// OK says whether nothing was found.
func (r Report) OK() bool { return r.Chain == nil && len(r.Mismatches) == 0 }

// Verify checks the audit chain link by link, then replays it (every entry
// carries the exemption's state after the change) and compares the result
// with every stored exemption, approvals included.
func (s *Service) Verify(ctx context.Context) (Report, error) {
	// One transaction for the three reads: another process approving
	// between them made a sound log look cut short or edited.
	var (
		entries []store.AuditEntry
		head    store.Head
		stored  []store.Exemption
	)
	// A row the store cannot read back was written outside attest: that
	// is what verify looks for, so it is reported, not an error of verify.
	var corrupt []string
	readable := func(err error) error {
		var ce *store.CorruptError
		if errors.As(err, &ce) {
			corrupt = append(corrupt, ce.Error())
			return nil
		}
		return err
	}
	err := s.st.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		if entries, err = tx.Audit(ctx, timeZero); readable(err) != nil {
			return err
		}
		if head, err = tx.Head(ctx); err != nil {
			return err
		}
		stored, err = tx.Exemptions(ctx, store.Filter{})
		return readable(err)
	})
	if err != nil {
		return Report{}, err
	}
	if len(corrupt) > 0 {
		return Report{Entries: len(entries), Exemptions: len(stored), Mismatches: corrupt}, nil
	}
	rep := Report{Entries: len(entries), Exemptions: len(stored), Chain: store.VerifyChain(entries, head)}

	replayed := map[string]store.Exemption{}
	for _, e := range entries {
		var d details
		if err := json.Unmarshal([]byte(e.Details), &d); err != nil {
			rep.Mismatches = append(rep.Mismatches, fmt.Sprintf("audit entry %d: details do not decode: %v", e.Seq, err))
			continue
		}
		if d.Exemption.ID != e.Exemption {
			rep.Mismatches = append(rep.Mismatches, fmt.Sprintf("audit entry %d names %s but carries the state of %s", e.Seq, e.Exemption, d.Exemption.ID))
			continue
		}
		replayed[e.Exemption] = d.Exemption
	}
	seen := map[string]bool{}
	for _, got := range stored {
		seen[got.ID] = true
		want, ok := replayed[got.ID]
		if !ok {
			rep.Mismatches = append(rep.Mismatches, fmt.Sprintf("%s is stored but the audit log never mentions it", got.ID))
			continue
		}
		if diff := diffExemption(want, got); diff != "" {
			rep.Mismatches = append(rep.Mismatches, fmt.Sprintf("%s differs from the audit log: %s", got.ID, diff))
		}
	}
	for id := range replayed {
		if !seen[id] {
			rep.Mismatches = append(rep.Mismatches, fmt.Sprintf("%s is in the audit log but no longer stored", id))
		}
	}
	slices.Sort(rep.Mismatches)
	return rep, nil
}

// diffExemption names the first fields that differ, as "reason: stored "x",
// log "y"". Both sides go through JSON so times and empty lists compare by
// value.
func diffExemption(want, got store.Exemption) string {
	var w, g map[string]any
	bw, _ := json.Marshal(want)
	bg, _ := json.Marshal(got)
	_ = json.Unmarshal(bw, &w)
	_ = json.Unmarshal(bg, &g)
	var keys []string
	for k := range w {
		keys = append(keys, k)
	}
	for k := range g {
		if _, ok := w[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var out string
	for _, k := range keys {
		if reflect.DeepEqual(w[k], g[k]) {
			continue
		}
		if out != "" {
			out += "; "
		}
		out += fmt.Sprintf("%s: stored %s, log %s", k, short(g[k]), short(w[k]))
	}
	return out
}

func short(v any) string {
	if v == nil {
		return "(none)"
	}
	b, _ := json.Marshal(v)
	if len(b) > 120 {
		return string(b[:117]) + "..."
	}
	return string(b)
}

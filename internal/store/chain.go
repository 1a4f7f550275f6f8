package store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// canonicalEntry fixes the encoding that is hashed. Field order is the
// struct's order (encoding/json keeps it), times are UTC RFC 3339 with
// nanoseconds, and Seq is left out on purpose: the order of the chain is
// proven by PrevHash, so renumbering rows cannot hide a reordering.
type canonicalEntry struct {
	Version   int    `json:"v"`
	PrevHash  string `json:"prev"`
	At        string `json:"at"`
	Action    string `json:"action"`
	Exemption string `json:"exemption"`
	Actor     string `json:"actor"`
	Identity  string `json:"identity"`
	Details   string `json:"details"`
}

// Hash is the SHA-256 (hex) of the entry's canonical encoding, which
// includes the previous entry's hash.
func Hash(e AuditEntry) string {
	b, err := json.Marshal(canonicalEntry{
		Version:   1,
		PrevHash:  e.PrevHash,
		At:        e.At.UTC().Format(time.RFC3339Nano),
		Action:    e.Action,
		Exemption: e.Exemption,
		Actor:     e.Actor,
		Identity:  e.Identity,
		Details:   e.Details,
	})
	if err != nil {
		// Strings and a time cannot fail to marshal.
		panic(fmt.Sprintf("store: canonical audit encoding: %v", err))
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// ChainError names the first place where the chain is broken.
type ChainError struct {
	Seq     int64  // the entry concerned
	Problem string // changed, removed, reordered
	Detail  string
}

func (e *ChainError) Error() string {
	return fmt.Sprintf("audit entry %d %s: %s", e.Seq, e.Problem, e.Detail)
}

// VerifyChain checks entries (all of them, in Seq order) against each other
// and against the recorded head. It returns nil when the chain is intact,
// else the first entry that was changed, removed or reordered.
func VerifyChain(entries []AuditEntry, head Head) *ChainError {
	byHash := make(map[string]int64, len(entries))
	for _, e := range entries {
		byHash[e.Hash] = e.Seq
	}
	prev := ""
	want := int64(1)
	for _, e := range entries {
		if Hash(e) != e.Hash {
			return &ChainError{Seq: e.Seq, Problem: "changed", Detail: "its content no longer matches its hash"}
		}
		if e.PrevHash != prev {
			if at, ok := byHash[e.PrevHash]; ok {
				return &ChainError{Seq: e.Seq, Problem: "reordered",
					Detail: fmt.Sprintf("it follows entry %d in the chain but is stored after entry %d", at, want-1)}
			}
			if e.Seq != want {
				return &ChainError{Seq: want, Problem: "removed", Detail: fmt.Sprintf("entry %d is missing before entry %d", want, e.Seq)}
			}
			return &ChainError{Seq: want - 1, Problem: "changed",
				Detail: fmt.Sprintf("entry %d does not link to it (it was rewritten, or an entry between them was removed)", e.Seq)}
		}
		if e.Seq != want {
			return &ChainError{Seq: want, Problem: "removed", Detail: fmt.Sprintf("entry %d is missing before entry %d", want, e.Seq)}
		}
		prev = e.Hash
		want++
	}
	last := want - 1
	switch {
	case head.Seq > last:
		return &ChainError{Seq: last + 1, Problem: "removed",
			Detail: fmt.Sprintf("the log ends at entry %d but its head records entry %d", last, head.Seq)}
	case head.Seq < last || head.Hash != prev:
		return &ChainError{Seq: head.Seq, Problem: "changed",
			Detail: fmt.Sprintf("the recorded head (entry %d) does not match the log's last entry %d", head.Seq, last)}
	}
	return nil
}

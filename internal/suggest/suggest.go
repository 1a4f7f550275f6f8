// Package suggest finds the word a user probably meant ("did you mean"),
// for unknown keys and fields in every file attest reads.
package suggest

import "strings"

// Closest returns the candidate nearest to word, ignoring case, when it is
// near enough to be a likely typo (at most a third of the word's length,
// and never more than three edits); otherwise "".
func Closest(word string, candidates []string) string {
	w := strings.ToLower(word)
	best, bestD := "", min(len(w)/3+1, 3)
	for _, c := range candidates {
		lc := strings.ToLower(c)
		if lc == w {
			return c
		}
		if d := Distance(w, lc); d <= bestD && (best == "" || d < bestD) {
			best, bestD = c, d
		}
	}
	return best
}

// Distance is the Levenshtein distance between two strings, on bytes
// (keys and field names are ASCII). Long inputs are capped: nothing that
// long is a typo of a key.
func Distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

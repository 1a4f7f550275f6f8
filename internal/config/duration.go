package config

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// ParseDuration is time.ParseDuration with two more units: d (24h) and w
// (7d). "30d", "2w", "1w3d", "1.5d", "12h", "90m" and "1h30m" all parse;
// units may be mixed in any order and each component may have a fraction.
// A bare "0" is zero. Days are always 24 hours (no calendar arithmetic).
func ParseDuration(s string) (time.Duration, error) {
	orig := s
	if s == "" {
		return 0, errors.New("empty duration")
	}
	neg := false
	if s[0] == '-' || s[0] == '+' {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "0" {
		return 0, nil
	}
	if s == "" {
		return 0, fmt.Errorf("invalid duration %q", orig)
	}
	var total float64 // nanoseconds; float64 keeps fractions, checked for overflow
	var exact int64
	for s != "" {
		// number
		i := 0
		for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
			i++
		}
		num := s[:i]
		if num == "" || num == "." || strings.Count(num, ".") > 1 {
			return 0, fmt.Errorf("invalid duration %q (want for example 30d, 2w, 12h or 90m)", orig)
		}
		s = s[i:]
		// unit
		j := 0
		for j < len(s) && !(s[j] >= '0' && s[j] <= '9' || s[j] == '.') {
			j++
		}
		unit := s[:j]
		s = s[j:]
		var scale time.Duration
		switch unit {
		case "ns":
			scale = time.Nanosecond
		case "us", "µs", "μs":
			scale = time.Microsecond
		case "ms":
			scale = time.Millisecond
		case "s":
			scale = time.Second
		case "m":
			scale = time.Minute
		case "h":
			scale = time.Hour
		case "d":
			scale = 24 * time.Hour
		case "w":
			scale = 7 * 24 * time.Hour
		case "":
			return 0, fmt.Errorf("missing unit in duration %q (units: ns, us, ms, s, m, h, d, w)", orig)
		default:
			return 0, fmt.Errorf("unknown unit %q in duration %q (units: ns, us, ms, s, m, h, d, w)", unit, orig)
		}
		whole, frac, _ := strings.Cut(num, ".")
		var w int64
		for _, c := range whole {
			if w > (math.MaxInt64-9)/10 {
				return 0, fmt.Errorf("duration %q is out of range", orig)
			}
			w = w*10 + int64(c-'0')
		}
		if w > math.MaxInt64/int64(scale) {
			return 0, fmt.Errorf("duration %q is out of range", orig)
		}
		part := w * int64(scale)
		// fraction: accumulate in float, then round once at the end
		f := 0.0
		div := 1.0
		for _, c := range frac {
			div *= 10
			f += float64(c-'0') / div
		}
		fracNS := f * float64(scale)
		if exact > math.MaxInt64-part {
			return 0, fmt.Errorf("duration %q is out of range", orig)
		}
		exact += part
		total += fracNS
	}
	sum := float64(exact) + math.Round(total)
	if sum > math.MaxInt64 {
		return 0, fmt.Errorf("duration %q is out of range", orig)
	}
	d := exact + int64(math.Round(total))
	if d < exact {
		return 0, fmt.Errorf("duration %q is out of range", orig)
	}
	if neg {
		d = -d
	}
	return time.Duration(d), nil
}

// FormatDuration writes d with the largest of w, d, h, m, s that divides
// it, else as Go writes it: 720h is "30d", 90m is "1h30m0s" (Go's form).
func FormatDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d%(7*24*time.Hour) == 0:
		return fmt.Sprintf("%dw", d/(7*24*time.Hour))
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

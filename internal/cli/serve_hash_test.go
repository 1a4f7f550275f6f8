package cli

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

// TestServeHashToken: the hash of the token read from stdin (trailing
// newline not included), and refusals for tokens too weak to store.
func TestServeHashToken(t *testing.T) {
	const tok = "9c1f0e7a54b3d2c1aa00ff11ee22dd33"
	sum := sha256.Sum256([]byte(tok))
	tests := []struct {
		name, stdin string
		code        int
		out, errHas string
	}{
		{"with newline", tok + "\n", 0, hex.EncodeToString(sum[:]) + "\n", ""},
		{"without newline", tok, 0, hex.EncodeToString(sum[:]) + "\n", ""},
		{"windows line end", tok + "\r\n", 0, hex.EncodeToString(sum[:]) + "\n", ""},
		{"empty", "", 2, "", "empty"},
		{"short", "abc123\n", 2, "", "shorter than 16"},
		{"spaces", " " + tok + "\n", 2, "", "spaces"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			c := newServeCmd(Streams{In: strings.NewReader(tt.stdin), Out: &out, Err: &errb})
			c.SetArgs([]string{"hash-token"})
			c.SilenceUsage, c.SilenceErrors = true, true
			code := 0
			if err := c.Execute(); err != nil {
				code = 2
				errb.WriteString(err.Error())
			}
			if code != tt.code || out.String() != tt.out || !strings.Contains(errb.String(), tt.errHas) {
				t.Errorf("code %d out %q err %q; want %d %q %q", code, out.String(), errb.String(), tt.code, tt.out, tt.errHas)
			}
			if strings.Contains(out.String()+errb.String(), tok) {
				t.Error("the token was printed")
			}
		})
	}
}

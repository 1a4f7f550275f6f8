package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"

	"github.com/continuums/attest/internal/config"
	"github.com/continuums/attest/internal/governance"
)

// How an identity was established, as the audit trail records it.
const (
	IdentityToken       = "token"
	IdentityCertificate = "certificate"
)

// errUnauthenticated is every authentication failure. The client is not
// told which part failed (no such token, bad certificate): that would
// help someone guessing.
var errUnauthenticated = errors.New("authentication required: a bearer token listed (hashed) in server.auth.tokens, or a client certificate issued by server.auth.client_ca")

// HashToken is the SHA-256 of a bearer token in hex, as server.auth.tokens
// stores it.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// authenticate establishes who sent r: a bearer token whose hash is in
// tokens, else a client certificate that chains to clientCAs. A request
// with an Authorization header is judged on it alone: a wrong token is
// refused even when a good certificate came along, so a mistake is
// noticed rather than silently attributed to someone else.
func authenticate(r *http.Request, tokens []config.AuthToken, clientCAs *x509.CertPool) (governance.Actor, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		tok = strings.TrimSpace(tok)
		if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
			return governance.Actor{}, errUnauthenticated
		}
		if who := tokenIdentity(tok, tokens); who != "" {
			return governance.Actor{Name: who, Identity: IdentityToken}, nil
		}
		return governance.Actor{}, errUnauthenticated
	}
	if r.TLS != nil && clientCAs != nil && len(r.TLS.PeerCertificates) > 0 {
		if who := certIdentity(r.TLS, clientCAs); who != "" {
			return governance.Actor{Name: who, Identity: IdentityCertificate}, nil
		}
	}
	return governance.Actor{}, errUnauthenticated
}

// tokenIdentity gives the identity whose stored hash is the token's, or
// "". Every configured hash is compared, in constant time, whatever
// matched before: the time taken says nothing about which entry (or how
// much of one) matched.
func tokenIdentity(tok string, tokens []config.AuthToken) string {
	sum := sha256.Sum256([]byte(tok))
	match := -1
	for i, t := range tokens {
		want, err := hex.DecodeString(t.SHA256)
		if err != nil || len(want) != len(sum) {
			continue // config validation refuses these; never match one
		}
		if subtle.ConstantTimeCompare(want, sum[:]) == 1 && match < 0 {
			match = i
		}
	}
	if match < 0 {
		return ""
	}
	return strings.ToLower(strings.TrimSpace(tokens[match].Identity))
}

// certIdentity verifies the client's chain against the configured CAs
// (for client authentication) and gives the certificate's first e-mail
// SAN, else its subject CN; "" when the chain does not verify. The TLS
// layer only requests the certificate (tls.RequestClientCert) so that
// admission reviews from kube-apiserver, which present none or one from
// another CA, are never refused at the handshake; the check is here.
func certIdentity(cs *tls.ConnectionState, roots *x509.CertPool) string {
	leaf := cs.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return ""
	}
	who := leaf.Subject.CommonName
	if len(leaf.EmailAddresses) > 0 {
		who = leaf.EmailAddresses[0]
	}
	return strings.ToLower(strings.TrimSpace(who))
}

// LoadClientCAs reads a PEM file of CA certificates for client
// authentication.
func LoadClientCAs(pemData []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemData) {
		return nil, errors.New("no PEM certificate found")
	}
	return pool, nil
}

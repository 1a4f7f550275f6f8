package server

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/continuums/attest/internal/governance"
	"github.com/continuums/attest/internal/project"
	"github.com/continuums/attest/internal/store"
	"github.com/continuums/attest/internal/store/storetest"
)

// Tokens of the test's people; the configuration holds only their hashes.
var govTokens = map[string]string{
	"dev@company.com":   "dev-token-0123456789abcdef",
	"alice@company.com": "alice-token-0123456789abcdef",
	"bob@company.com":   "bob-token-0123456789abcdef",
	"carol@company.com": "carol-token-0123456789abcdef", // not in security-team
}

func govProject(t *testing.T, requiredApprovers int, clientCA string) project.Options {
	t.Helper()
	var b strings.Builder
	b.WriteString(projectConfig + "server:\n  auth:\n")
	if clientCA != "" {
		fmt.Fprintf(&b, "    client_ca: %s\n", clientCA)
	}
	b.WriteString("    tokens:\n")
	for who, tok := range govTokens {
		fmt.Fprintf(&b, "      - identity: %s\n        sha256: %s\n", who, HashToken(tok))
	}
	gov := fmt.Sprintf(`governance:
  exemption_approval:
    required_approvers: %d
    required_teams: ["security-team"]
    max_duration: "30d"
  emergency_override:
    enabled: true
    required_approvers: 1
  teams:
    security-team: [alice@company.com, bob@company.com]
    developers: [dev@company.com, carol@company.com]
`, requiredApprovers)
	return newProject(t, map[string]string{".attest/policies.yaml": b.String(), ".attest/governance.yaml": gov})
}

// govServer is a real server on 127.0.0.1 with a real store, its cache on
// a clock the test moves.
type govServer struct {
	*testServer
	st    store.Store
	cache *governance.Cached
	clock *testClock
}

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func startGov(t *testing.T, o project.Options, storeURL string, opts ...Option) *govServer {
	t.Helper()
	st, err := store.Open(context.Background(), storeURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clock := &testClock{t: time.Now()}
	cache := governance.NewCached(governance.New(st), time.Minute, governance.WithCacheClock(clock.now))
	o.StoreExemptions = cache
	opts = append([]Option{WithApprovalStore(st, cache), WithExemptionSync(0)}, opts...)
	ts := start(t, o, opts...)
	ts.waitReady(t)
	return &govServer{testServer: ts, st: st, cache: cache, clock: clock}
}

// call sends a request as who ("" for nobody) and decodes the JSON answer.
func (g *govServer) call(t *testing.T, method, path, who string, body string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, g.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if who != "" {
		tok, ok := govTokens[who]
		if !ok {
			tok = who // a raw header value
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := g.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// code POSTs an empty decision as who and gives the status (-1 when the
// request failed); safe to call from any goroutine.
func (g *govServer) code(path, who string) int {
	req, err := http.NewRequest("POST", g.url+path, nil)
	if err != nil {
		return -1
	}
	req.Header.Set("Authorization", "Bearer "+govTokens[who])
	resp, err := g.client.Do(req)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

func (g *govServer) admitted(t *testing.T) bool {
	t.Helper()
	code, b := g.post(t, "/v1/admission", "application/json", review("u1", "CREATE", privilegedPod, ""))
	if code != 200 {
		t.Fatalf("admission: %d %s", code, b)
	}
	return decode(t, b).Allowed
}

func exemptionOf(t *testing.T, b []byte) ExemptionView {
	t.Helper()
	var v ExemptionView
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("answer: %v\n%s", err, b)
	}
	return v
}

// storeState is everything in the store, to prove a refused request
// changed nothing.
func storeState(t *testing.T, st store.Store) string {
	t.Helper()
	ctx := context.Background()
	list, err := st.Exemptions(ctx, store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	entries, err := st.Audit(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(struct {
		L []store.Exemption
		A []store.AuditEntry
	}{list, entries})
	return string(b)
}

const privRequest = `{"policy":"attest-security","resource":"Pod/default/p","reason":"node agent needs host access","duration":"7d","approvers":["security-team"]}`

// TestExemptionWorkflowSQLite: the whole workflow through the API on a
// real SQLite store, admission following it without a restart, and the
// CLI's path (a write to the same store) seen after the cache's TTL.
func TestExemptionWorkflowSQLite(t *testing.T) {
	g := startGov(t, govProject(t, 1, ""), "sqlite://"+filepath.Join(t.TempDir(), "attest.db"))
	if g.admitted(t) {
		t.Fatal("privileged pod admitted before any exemption")
	}
	code, b := g.call(t, "POST", "/v1/exemptions", "dev@company.com", privRequest)
	if code != http.StatusCreated {
		t.Fatalf("request: %d %s", code, b)
	}
	e := exemptionOf(t, b)
	if e.Status != store.StatusPending || e.RequestedBy != "dev@company.com" || e.ApprovalsNeeded != 1 {
		t.Fatalf("requested: %+v", e)
	}
	if g.admitted(t) {
		t.Fatal("a pending request exempts")
	}

	code, b = g.call(t, "POST", "/v1/exemptions/"+e.ID+"/approve", "alice@company.com", `{"comment":"ok for the migration"}`)
	if code != 200 {
		t.Fatalf("approve: %d %s", code, b)
	}
	if a := exemptionOf(t, b); a.Status != store.StatusApproved || len(a.Approvals) != 1 || a.Approvals[0].By != "alice@company.com" || a.Approvals[0].Identity != IdentityToken {
		t.Fatalf("approved: %+v", a)
	}
	// Applies at once on this server: no restart, no waiting for the TTL.
	if !g.admitted(t) {
		t.Fatal("approved exemption not applied to admission")
	}

	// The audit trail names the authenticated identity and how it was
	// established, and verifies.
	code, b = g.call(t, "GET", "/v1/audit", "bob@company.com", "")
	var entries []store.AuditEntry
	if code != 200 || json.Unmarshal(b, &entries) != nil || len(entries) != 2 {
		t.Fatalf("audit: %d %s", code, b)
	}
	if entries[0].Actor != "dev@company.com" || entries[0].Identity != IdentityToken || entries[1].Action != "approve" || entries[1].Actor != "alice@company.com" || entries[1].Identity != IdentityToken {
		t.Fatalf("audit entries: %+v", entries)
	}
	code, b = g.call(t, "GET", "/v1/audit/verify", "dev@company.com", "")
	if code != 200 || !strings.Contains(string(b), `"ok": true`) {
		t.Fatalf("verify: %d %s", code, b)
	}
	code, b = g.call(t, "GET", "/v1/exemptions?status=approved", "carol@company.com", "")
	var list []ExemptionView
	if code != 200 || json.Unmarshal(b, &list) != nil || len(list) != 1 || list[0].ID != e.ID {
		t.Fatalf("list: %d %s", code, b)
	}
	if code, b = g.call(t, "GET", "/v1/exemptions/"+e.ID, "carol@company.com", ""); code != 200 || exemptionOf(t, b).ID != e.ID {
		t.Fatalf("get: %d %s", code, b)
	}

	// Revoked on the command line's path (the same store, self-declared):
	// the server sees it once the cache's TTL has passed.
	cfg, err := LoadConfig(g.src.base)
	if err != nil {
		t.Fatal(err)
	}
	cli := governance.New(g.st, governance.WithGovernance(cfg.Governance))
	if _, err := cli.Revoke(context.Background(), e.ID, governance.Actor{Name: "bob@company.com", Identity: governance.IdentitySelfDeclared}, "done"); err != nil {
		t.Fatal(err)
	}
	if err := g.SyncExemptions(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	if !g.admitted(t) {
		t.Fatal("the cache was read again before its TTL")
	}
	g.clock.add(2 * time.Minute)
	if err := g.SyncExemptions(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	if g.admitted(t) {
		t.Fatal("revoked exemption still applies after the TTL")
	}

	// An emergency override through the API, approved by bob.
	code, b = g.call(t, "POST", "/v1/overrides", "dev@company.com", `{"policy":"attest-security","resource":"Pod/default/p","reason":"incident 4711","approvers":["security-team"]}`)
	if code != http.StatusCreated || !exemptionOf(t, b).Emergency || exemptionOf(t, b).Duration != 4*time.Hour {
		t.Fatalf("override: %d %s", code, b)
	}
	o := exemptionOf(t, b)
	if code, b = g.call(t, "POST", "/v1/exemptions/"+o.ID+"/approve", "bob@company.com", ""); code != 200 {
		t.Fatalf("approve override: %d %s", code, b)
	}
	if !g.admitted(t) {
		t.Fatal("approved override not applied")
	}
	// Allowed, and said out loud: kubectl shows the override to whoever
	// deployed, as every report of policy check flags it.
	_, b = g.post(t, "/v1/admission", "application/json", review("u2", "CREATE", privilegedPod, ""))
	warned := false
	for _, w := range decode(t, b).Warnings {
		if strings.HasPrefix(w, "attest: EMERGENCY OVERRIDE "+o.ID) && strings.Contains(w, "[attest-security]") && strings.Contains(w, "bob@company.com") {
			warned = true
		}
	}
	if !warned {
		t.Fatalf("override not flagged in the admission warnings: %s", b)
	}
	if code, b = g.call(t, "POST", "/v1/exemptions/"+o.ID+"/revoke", "dev@company.com", `{"comment":"incident over"}`); code != 200 || exemptionOf(t, b).Status != store.StatusRevoked {
		t.Fatalf("requester revokes: %d %s", code, b)
	}
	if g.admitted(t) {
		t.Fatal("revoked override still applies")
	}
}

// TestExemptionRefusals: every refused request gets its status and
// changes nothing in the store or the audit log.
func TestExemptionRefusals(t *testing.T) {
	g := startGov(t, govProject(t, 1, ""), "sqlite://"+filepath.Join(t.TempDir(), "attest.db"))
	code, b := g.call(t, "POST", "/v1/exemptions", "dev@company.com", privRequest)
	if code != http.StatusCreated {
		t.Fatalf("request: %d %s", code, b)
	}
	id := exemptionOf(t, b).ID
	code, b = g.call(t, "POST", "/v1/exemptions", "dev@company.com", strings.Replace(privRequest, "Pod/default/p", "Pod/default/q", 1))
	if code != http.StatusCreated {
		t.Fatalf("request: %d %s", code, b)
	}
	rejected := exemptionOf(t, b).ID
	if code, b = g.call(t, "POST", "/v1/exemptions/"+rejected+"/reject", "alice@company.com", ""); code != 200 {
		t.Fatalf("reject: %d %s", code, b)
	}
	tests := []struct {
		name, method, path, who, body string
		code                          int
		errHas                        string
	}{
		{"no credentials", "POST", "/v1/exemptions/" + id + "/approve", "", "", 401, "authentication required"},
		{"unknown token", "POST", "/v1/exemptions/" + id + "/approve", "not-a-known-token-at-all", "", 401, "authentication required"},
		{"no credentials on a request", "POST", "/v1/exemptions", "", privRequest, 401, "authentication required"},
		{"reads need credentials too", "GET", "/v1/audit", "", "", 401, "authentication required"},
		{"own request", "POST", "/v1/exemptions/" + id + "/approve", "dev@company.com", "", 403, "cannot approve or reject it"},
		{"not in an approving team", "POST", "/v1/exemptions/" + id + "/approve", "carol@company.com", "", 403, "not among the approvers"},
		{"reject by a non-approver", "POST", "/v1/exemptions/" + id + "/reject", "carol@company.com", "", 403, "not among the approvers"},
		{"revoke by a stranger", "POST", "/v1/exemptions/" + id + "/revoke", "carol@company.com", "", 403, "not among the approvers"},
		{"approve a rejected one", "POST", "/v1/exemptions/" + rejected + "/approve", "bob@company.com", "", 409, "not pending"},
		{"unknown id", "POST", "/v1/exemptions/exemption-999/approve", "alice@company.com", "", 404, "no such exemption"},
		{"unknown id read", "GET", "/v1/exemptions/nonsense", "alice@company.com", "", 404, "no such exemption"},
		{"bad JSON", "POST", "/v1/exemptions", "dev@company.com", `{"policy":`, 400, "exemption request"},
		{"self-declared requester", "POST", "/v1/exemptions", "dev@company.com", strings.Replace(privRequest, "{", `{"requested_by":"alice@company.com",`, 1), 400, "authenticated identity"},
		{"self-declared approver", "POST", "/v1/exemptions/" + id + "/approve", "carol@company.com", `{"approver":"alice@company.com"}`, 400, "authenticated identity"},
		{"bad duration", "POST", "/v1/exemptions", "dev@company.com", strings.Replace(privRequest, `"7d"`, `"7 fortnights"`, 1), 400, "7 fortnights"},
		{"too long", "POST", "/v1/exemptions", "dev@company.com", strings.Replace(privRequest, `"7d"`, `"90d"`, 1), 400, "max_duration"},
		{"unknown policy", "POST", "/v1/exemptions", "dev@company.com", strings.Replace(privRequest, "attest-security", "no-such-policy", 1), 400, "unknown policy"},
		{"bad resource", "POST", "/v1/exemptions", "dev@company.com", strings.Replace(privRequest, "Pod/default/p", "Pod/a/b/c", 1), 400, "Pod/a/b/c"},
		{"array body", "POST", "/v1/exemptions", "dev@company.com", `[]`, 400, "JSON object"},
		{"trailing data", "POST", "/v1/exemptions/" + id + "/approve", "alice@company.com", `{} {}`, 400, "data after"},
		{"bad status filter", "GET", "/v1/exemptions?status=maybe", "alice@company.com", "", 400, "unknown status"},
		{"bad since", "GET", "/v1/audit?since=yesterday", "alice@company.com", "", 400, "since"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := storeState(t, g.st)
			who := tt.who
			code, b := g.call(t, tt.method, tt.path, who, tt.body)
			if code != tt.code || !strings.Contains(string(b), tt.errHas) {
				t.Errorf("got %d %s, want %d with %q", code, b, tt.code, tt.errHas)
			}
			if after := storeState(t, g.st); after != before {
				t.Errorf("the store changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
	// A Basic header is not a bearer token.
	req, _ := http.NewRequest("POST", g.url+"/v1/exemptions/"+id+"/approve", nil)
	req.SetBasicAuth("alice@company.com", govTokens["alice@company.com"])
	resp, err := g.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("basic auth: %d %v", resp.StatusCode, resp.Header)
	}
	if code, b := g.call(t, "GET", "/v1/exemptions/"+id, "bob@company.com", ""); code != 200 || exemptionOf(t, b).Status != store.StatusPending || len(exemptionOf(t, b).Approvals) != 0 {
		t.Fatalf("after the refusals: %d %s", code, b)
	}
}

// TestNoStore: without an approval store the endpoints say how to get one.
func TestNoStore(t *testing.T) {
	ts := start(t, govProject(t, 1, ""))
	ts.waitReady(t)
	code, b := ts.post(t, "/v1/exemptions", "application/json", []byte(privRequest))
	if code != 404 || !strings.Contains(string(b), "--store") {
		t.Fatalf("%d %s", code, b)
	}
}

// TestTokenIdentity: constant-time lookup gives the identity of the hash
// that matches, and nothing for a near miss.
func TestTokenIdentity(t *testing.T) {
	o := govProject(t, 1, "")
	cfg, err := LoadConfig(o)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ tok, want string }{
		{govTokens["alice@company.com"], "alice@company.com"},
		{govTokens["bob@company.com"], "bob@company.com"},
		{govTokens["bob@company.com"] + "x", ""},
		{"", ""},
		{HashToken(govTokens["bob@company.com"]), ""}, // the hash is not the token
	}
	for _, tt := range tests {
		if got := tokenIdentity(tt.tok, cfg.Server.Auth.Tokens); got != tt.want {
			t.Errorf("tokenIdentity(%q) = %q, want %q", tt.tok, got, tt.want)
		}
	}
}

// TestClientCertificates: real TLS with generated certificates; a client
// certificate from the configured CA authenticates its e-mail SAN (or
// CN), and the approval records "certificate"; one from another CA is
// refused.
func TestClientCertificates(t *testing.T) {
	dir := t.TempDir()
	ca, caKey := newCA(t, "attest test CA")
	other, otherKey := newCA(t, "someone else's CA")
	writePEM(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", ca.Raw)
	serverCert, serverKey := issue(t, ca, caKey, x509.Certificate{Subject: pkix.Name{CommonName: "attest"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	writePEM(t, filepath.Join(dir, "tls.crt"), "CERTIFICATE", serverCert.Certificate[0])
	writePEM(t, filepath.Join(dir, "tls.key"), "PRIVATE KEY", serverKey)
	bob, _ := issue(t, ca, caKey, x509.Certificate{Subject: pkix.Name{CommonName: "Bob"}, EmailAddresses: []string{"Bob@Company.com"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	aliceCN, _ := issue(t, ca, caKey, x509.Certificate{Subject: pkix.Name{CommonName: "alice@company.com"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	serverOnly, _ := issue(t, ca, caKey, x509.Certificate{Subject: pkix.Name{CommonName: "alice@company.com"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	forged, _ := issue(t, other, otherKey, x509.Certificate{Subject: pkix.Name{CommonName: "Bob"}, EmailAddresses: []string{"bob@company.com"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})

	caPEM, _ := os.ReadFile(filepath.Join(dir, "ca.pem"))
	pool, err := LoadClientCAs(caPEM)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	g := startGovTLS(t, govProject(t, 2, "ca.pem"), "sqlite://"+filepath.Join(dir, "attest.db"), roots,
		WithTLS(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")), WithClientCAs(pool))
	code, b := g.call(t, "POST", "/v1/exemptions", "dev@company.com", privRequest)
	if code != http.StatusCreated {
		t.Fatalf("request: %d %s", code, b)
	}
	id := exemptionOf(t, b).ID

	as := func(cert *tls.Certificate) *http.Client {
		c := &tls.Config{RootCAs: roots}
		if cert != nil {
			c.Certificates = []tls.Certificate{*cert}
		}
		return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: c}}
	}
	approve := func(c *http.Client) (int, []byte) {
		resp, err := c.Post(g.url+"/v1/exemptions/"+id+"/approve", "application/json", strings.NewReader(`{"comment":"by certificate"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	for _, tt := range []struct {
		name   string
		client *http.Client
	}{{"no certificate", as(nil)}, {"another CA", as(&forged)}, {"not for client auth", as(&serverOnly)}} {
		before := storeState(t, g.st)
		if code, b := approve(tt.client); code != 401 {
			t.Errorf("%s: %d %s", tt.name, code, b)
		}
		if storeState(t, g.st) != before {
			t.Errorf("%s: the store changed", tt.name)
		}
	}
	if code, b := approve(as(&bob)); code != 200 || exemptionOf(t, b).Status != store.StatusPending {
		t.Fatalf("bob: %d %s", code, b)
	}
	code, b = approve(as(&aliceCN))
	e := exemptionOf(t, b)
	if code != 200 || e.Status != store.StatusApproved || len(e.Approvals) != 2 {
		t.Fatalf("alice: %d %s", code, b)
	}
	for i, want := range []string{"bob@company.com", "alice@company.com"} {
		if a := e.Approvals[i]; a.By != want || a.Identity != IdentityCertificate {
			t.Errorf("approval %d: %+v, want %s by certificate", i, a, want)
		}
	}
	// Admission still needs no client certificate.
	resp, err := as(nil).Post(g.url+"/v1/admission", "application/json", bytes.NewReader(review("u2", "CREATE", privilegedPod, "")))
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !decode(t, b).Allowed {
		t.Fatalf("admission over TLS after approval: %d %s", resp.StatusCode, b)
	}
}

// startGovTLS is startGov for a TLS server: the client trusts pool's CA.
func startGovTLS(t *testing.T, o project.Options, storeURL string, roots *x509.CertPool, opts ...Option) *govServer {
	t.Helper()
	st, err := store.Open(context.Background(), storeURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clock := &testClock{t: time.Now()}
	cache := governance.NewCached(governance.New(st), time.Minute, governance.WithCacheClock(clock.now))
	o.StoreExemptions = cache
	ts := start(t, o, append([]Option{WithApprovalStore(st, cache), WithExemptionSync(0)}, opts...)...)
	ts.url = strings.Replace(ts.url, "http://", "https://", 1)
	ts.client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	ts.waitReady(t)
	return &govServer{testServer: ts, st: st, cache: cache, clock: clock}
}

func newCA(t *testing.T, name string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

var serial atomic.Int64

func issue(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, tmpl x509.Certificate) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = big.NewInt(100 + serial.Add(1))
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, keyDER
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentApprovalsTwoReplicas: two server instances on one store
// (SQLite file, and PostgreSQL as replicas share it), two approvers at
// the same moment through the two servers: exactly the approvals given;
// the same person on both at once: one approval, one 409.
func TestConcurrentApprovalsTwoReplicas(t *testing.T) {
	var pg *storetest.Postgres
	skip := ""
	if storetest.FindPostgres() == "" {
		skip = "no PostgreSQL binaries found (apt-get install postgresql, or set ATTEST_PG_BIN)"
	}
	for _, be := range storetest.Backends(nil, skip) {
		t.Run(be.Name, func(t *testing.T) {
			url := ""
			if be.Name == "postgres" {
				if skip != "" {
					t.Skip("PostgreSQL tests skipped: " + skip)
				}
				if pg == nil {
					p, err := storetest.StartPostgres(context.Background())
					if err != nil {
						t.Fatalf("start PostgreSQL: %v", err)
					}
					pg = p
					t.Cleanup(p.Stop)
				}
				url = pg.NewDatabase(t)
			} else {
				url = be.NewURL(t)
			}
			o := govProject(t, 2, "")
			a := startGov(t, o, url)
			b := startGov(t, o, url)
			for round := range 5 {
				code, body := a.call(t, "POST", "/v1/exemptions", "dev@company.com", privRequest)
				if code != http.StatusCreated {
					t.Fatalf("request: %d %s", code, body)
				}
				id := exemptionOf(t, body).ID
				// Two approvers, two replicas, one moment.
				codes := together(t, func() int {
					return a.code("/v1/exemptions/"+id+"/approve", "alice@company.com")
				}, func() int {
					return b.code("/v1/exemptions/"+id+"/approve", "bob@company.com")
				})
				if !reflect.DeepEqual(codes, []int{200, 200}) {
					t.Fatalf("round %d: approvals answered %v", round, codes)
				}
				e, err := governance.New(a.st).Get(context.Background(), id)
				if err != nil {
					t.Fatal(err)
				}
				if e.Status != store.StatusApproved || len(e.Approvals) != 2 {
					t.Fatalf("round %d: %s with %d approvals, want approved with 2: %+v", round, e.Status, len(e.Approvals), e.Approvals)
				}
				// The same person on both replicas at once counts once.
				code, body = b.call(t, "POST", "/v1/exemptions", "dev@company.com", strings.Replace(privRequest, "Pod/default/p", fmt.Sprintf("Pod/default/q%d", round), 1))
				if code != http.StatusCreated {
					t.Fatalf("request: %d %s", code, body)
				}
				id2 := exemptionOf(t, body).ID
				codes = together(t, func() int {
					return a.code("/v1/exemptions/"+id2+"/approve", "alice@company.com")
				}, func() int {
					return b.code("/v1/exemptions/"+id2+"/approve", "alice@company.com")
				})
				if codes[0]+codes[1] != 200+409 {
					t.Fatalf("round %d: the same approver twice answered %v, want one 200 and one 409", round, codes)
				}
				if e, _ := governance.New(a.st).Get(context.Background(), id2); len(e.Approvals) != 1 || e.Status != store.StatusPending {
					t.Fatalf("round %d: %s with %d approvals, want pending with 1", round, e.Status, len(e.Approvals))
				}
			}
			rep, err := governance.New(a.st).Verify(context.Background())
			if err != nil || !rep.OK() {
				t.Fatalf("verify: %v %+v", err, rep)
			}
			// Both replicas apply the approvals: the one that approved
			// last at once, the other after its cache's TTL.
			for _, s := range []*govServer{a, b} {
				s.clock.add(2 * time.Minute)
				if err := s.SyncExemptions(context.Background(), false); err != nil {
					t.Fatal(err)
				}
				if !s.admitted(t) {
					t.Error("approved exemption not applied on a replica")
				}
			}
		})
	}
}

// together runs the calls at the same moment (released by one channel
// close) and gives their results in order.
func together(t *testing.T, calls ...func() int) []int {
	t.Helper()
	out := make([]int, len(calls))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, c := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out[i] = c()
		}()
	}
	close(start)
	wg.Wait()
	return out
}

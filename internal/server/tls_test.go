package server

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/continuums/attest/internal/metrics"
)

func parseText(t *testing.T, r io.Reader) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// testCA signs server certificates for 127.0.0.1.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "attest test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// leaf is a server certificate for 127.0.0.1 with the given serial, and
// its key, both PEM.
func (ca *testCA) leaf(t *testing.T, serial int64) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "attest.attest-system.svc"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
}

// replaceFile writes data to path as cert-manager and the kubelet do: a
// temporary file in the same directory, renamed over the old one.
func replaceFile(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tmp.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := tmp.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		t.Fatal(err)
	}
}

// lockedBuffer is a log sink the server writes to from its goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestTLSCertificateReload runs the real server with TLS on 127.0.0.1,
// renews its certificate in place and sees the next handshakes serve the
// new one; a renewal whose key does not match keeps the old certificate,
// is logged and counted, and a good pair after it is picked up again.
func TestTLSCertificateReload(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	c1, k1 := ca.leaf(t, 1001)
	writeFiles(t, dir, map[string]string{"tls.crt": string(c1), "tls.key": string(k1)})

	logs := &lockedBuffer{}
	ts := start(t, newProject(t, nil), WithTLS(certFile, keyFile),
		WithLogger(slog.New(slog.NewJSONHandler(logs, nil))))
	addr := strings.TrimPrefix(ts.url, "http://")
	tlsConf := &tls.Config{RootCAs: ca.pool, MinVersion: tls.VersionTLS12}

	// served does one fresh handshake, verified against the CA and the
	// 127.0.0.1 SAN, and returns the served certificate's serial.
	served := func() int64 {
		t.Helper()
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, tlsConf)
		if err != nil {
			t.Fatalf("TLS handshake: %v", err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
	}
	// A client without keep-alive: every request is a new handshake.
	client := &http.Client{Timeout: 10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: tlsConf, DisableKeepAlives: true}}
	https := "https://" + addr
	failures := func() float64 {
		t.Helper()
		resp, err := client.Get(https + "/metrics")
		if err != nil {
			t.Fatalf("GET /metrics over TLS: %v", err)
		}
		defer resp.Body.Close()
		return sample(parseText(t, resp.Body), metrics.TLSReloadFailures, nil)
	}
	// waitFor repeats handshakes (each one may trigger the reloader's
	// check, which looks at the files at most once a second) until cond
	// holds or 10 s pass.
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("after 10 s: %s", what)
			}
			runtimeGosched()
		}
	}

	if got := served(); got != 1001 {
		t.Fatalf("served serial %d, want 1001", got)
	}
	// HTTP/2 is offered, as kube-apiserver's webhook client prefers.
	h2 := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConf.Clone(), ForceAttemptHTTP2: true}}
	if resp, err := h2.Get(https + "/healthz"); err != nil || resp.ProtoMajor != 2 {
		t.Fatalf("HTTP/2 over TLS: %v %v", err, resp)
	} else {
		resp.Body.Close()
	}
	resp, err := client.Get(https + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	// 1. A renewal: new key and certificate renamed into place.
	c2, k2 := ca.leaf(t, 1002)
	replaceFile(t, keyFile, k2)
	replaceFile(t, certFile, c2)
	waitFor("the renewed certificate (serial 1002) is served", func() bool { return served() == 1002 })
	// Between the two renames a check may have seen a mismatched pair and
	// counted it; count from here.
	base := failures()

	// 2. A bad renewal: a new certificate whose key is not the one on disk.
	c3, _ := ca.leaf(t, 1003)
	_, kOther := ca.leaf(t, 1004)
	replaceFile(t, keyFile, kOther)
	replaceFile(t, certFile, c3)
	waitFor("the bad pair is counted", func() bool { return failures() > base })
	if got := served(); got != 1002 {
		t.Fatalf("after a bad renewal the server serves serial %d, want the previous 1002", got)
	}
	if !strings.Contains(logs.String(), "TLS certificate reload failed") {
		t.Errorf("the failed reload is not logged:\n%s", logs.String())
	}
	// 3. A good pair after the bad one is picked up.
	c5, k5 := ca.leaf(t, 1005)
	replaceFile(t, keyFile, k5)
	replaceFile(t, certFile, c5)
	waitFor("the good pair after a bad one (serial 1005) is served", func() bool { return served() == 1005 })
	if !strings.Contains(logs.String(), "TLS certificate reloaded") {
		t.Errorf("the reload is not logged:\n%s", logs.String())
	}
}

// TestCertReloaderCheck drives the reloader's check directly (every
// handshake looks at the files when every is 0): a bad pair is counted
// and logged once however many handshakes see it, the last good
// certificate is served meanwhile, and a missing file is a failure too.
func TestCertReloaderCheck(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	c1, k1 := ca.leaf(t, 1)
	replaceFile(t, certFile, c1)
	replaceFile(t, keyFile, k1)
	logs := &lockedBuffer{}
	var failed int
	cr, err := newCertReloader(certFile, keyFile, slog.New(slog.NewJSONHandler(logs, nil)), func() { failed++ })
	if err != nil {
		t.Fatal(err)
	}
	cr.every = 0
	serial := func() int64 {
		t.Helper()
		c, err := cr.get(nil)
		if err != nil || c == nil || c.Leaf == nil {
			t.Fatalf("get: %v, %v", c, err)
		}
		return c.Leaf.SerialNumber.Int64()
	}
	if serial() != 1 || failed != 0 {
		t.Fatalf("unchanged files: serial %d, %d failures", serial(), failed)
	}

	c2, _ := ca.leaf(t, 2)
	replaceFile(t, certFile, c2) // the key on disk is still the first one
	for range 5 {
		if got := serial(); got != 1 {
			t.Fatalf("with a mismatched pair on disk serial %d is served, want 1", got)
		}
	}
	if failed != 1 || strings.Count(logs.String(), "TLS certificate reload failed") != 1 {
		t.Fatalf("a bad pair seen by 5 handshakes: %d failures, log:\n%s", failed, logs.String())
	}

	_, k3 := ca.leaf(t, 3)
	replaceFile(t, keyFile, k3) // still no match, but new files: tried and counted again
	if got := serial(); got != 1 || failed != 2 {
		t.Fatalf("another bad pair: serial %d, %d failures", got, failed)
	}

	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	if got := serial(); got != 1 || failed != 3 {
		t.Fatalf("a missing key: serial %d, %d failures", got, failed)
	}

	c4, k4 := ca.leaf(t, 4)
	replaceFile(t, keyFile, k4)
	replaceFile(t, certFile, c4)
	if got := serial(); got != 4 || failed != 3 {
		t.Fatalf("a good pair after bad ones: serial %d, %d failures", got, failed)
	}
}

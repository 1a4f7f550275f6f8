package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func rsaKeys(t *testing.T) (private, public string) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))
}

func build(t *testing.T, signingKey, rule string) []byte {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "policy.rego"), []byte("package company.rules\nimport rego.v1\n"+rule+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := Build(dir, BuildOptions{Revision: "r1", SigningKey: signingKey, KeyID: "release"})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Write(&buf, b); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// tamper rewrites one file of a bundle archive, keeping its signatures.
func tamper(t *testing.T, data []byte, suffix, body string) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	tw := tar.NewWriter(zw)
	changed := false
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		content, _ := io.ReadAll(tr)
		if strings.HasSuffix(h.Name, suffix) {
			content, changed = []byte(body), true
		}
		h.Size = int64(len(content))
		_ = tw.WriteHeader(h)
		_, _ = tw.Write(content)
	}
	tw.Close()
	zw.Close()
	if !changed {
		t.Fatalf("no file ending in %s", suffix)
	}
	return out.Bytes()
}

func TestSignedBundles(t *testing.T) {
	private, public := rsaKeys(t)
	_, otherPublic := rsaKeys(t)
	keys := NewKeys(map[string][2]string{"release": {public, "RS256"}})
	signed := build(t, private, `deny contains "x" if input.kind == "Pod"`)
	unsigned := build(t, "", `deny contains "x" if input.kind == "Pod"`)
	forged := tamper(t, signed, "policy.rego", "package company.rules\nimport rego.v1\n")

	cases := []struct {
		name    string
		data    []byte
		keys    *Keys
		wantErr bool
	}{
		{"signed, verified", signed, keys, false},
		{"unsigned, no keys configured", unsigned, &Keys{}, false},
		{"unsigned refused when keys are configured", unsigned, keys, true},
		{"tampered refused", forged, keys, true},
		{"signed by another key refused", signed, NewKeys(map[string][2]string{"release": {otherPublic, "RS256"}}), true},
		{"garbage refused", []byte("not a bundle"), keys, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := Read(c.data, c.keys)
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v, want error %v", err, c.wantErr)
			}
			if err == nil && Revision(b) != "r1" {
				t.Fatalf("revision = %q", Revision(b))
			}
		})
	}
}

func TestFetchWithETag(t *testing.T) {
	data := build(t, "", `deny contains "x" if true`)
	var lastIfNoneMatch string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lastIfNoneMatch = r.Header.Get("If-None-Match")
		if lastIfNoneMatch == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"v1"`)
		_, _ = w.Write(data)
	}))
	defer srv.Close()
	f := NewFetcher(srv.URL)
	got, etag, err := f.Fetch(context.Background(), true)
	if err != nil || !bytes.Equal(got, data) || etag != `"v1"` {
		t.Fatalf("first fetch: %v %q", err, etag)
	}
	// Not accepted yet (say it failed to compile): fetched again in full.
	if _, _, err := f.Fetch(context.Background(), true); err != nil || lastIfNoneMatch != "" {
		t.Fatalf("unaccepted etag was sent: %q %v", lastIfNoneMatch, err)
	}
	f.Accept(etag)
	if _, _, err := f.Fetch(context.Background(), true); !errors.Is(err, ErrNotModified) {
		t.Fatalf("after Accept: %v, want ErrNotModified", err)
	}
}

// TestFetchRefusesWhatItDidNotAskFor: a 304 to a request without an ETag
// refers to nothing (it once left the server unready with a confusing
// compile error), and a declared size over the limit is refused before
// the body is read.
func TestFetchRefusesWhatItDidNotAskFor(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			w.Header().Set("Content-Length", "70000000")
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusNotModified)
	}))
	defer srv.Close()
	if _, _, err := NewFetcher(srv.URL).Fetch(context.Background(), false); err == nil || errors.Is(err, ErrNotModified) || !strings.Contains(err.Error(), "no ETag was sent") {
		t.Fatalf("unasked 304: %v", err)
	}
	if _, _, err := NewFetcher(srv.URL+"/big").Fetch(context.Background(), false); err == nil || !strings.Contains(err.Error(), "bundle of 70000000 bytes, over the") {
		t.Fatalf("declared 70 MB: %v", err)
	}
}

// TestFetchStaysOnHTTPS: a redirect from HTTPS to plain HTTP is refused.
func TestFetchStaysOnHTTPS(t *testing.T) {
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("bundle")) }))
	defer plain.Close()
	tls := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/same" {
			http.Redirect(w, r, "/final", http.StatusFound)
			return
		}
		if r.URL.Path == "/final" {
			_, _ = w.Write([]byte("bundle"))
			return
		}
		http.Redirect(w, r, plain.URL+"/bundle.tar.gz", http.StatusFound)
	}))
	defer tls.Close()
	if _, _, err := NewFetcher(tls.URL+"/bundle.tar.gz", WithHTTPClient(tls.Client())).Fetch(context.Background(), false); err == nil || !strings.Contains(err.Error(), "not fetched over http") {
		t.Fatalf("HTTPS to HTTP: %v", err)
	}
	if data, _, err := NewFetcher(tls.URL+"/same", WithHTTPClient(tls.Client())).Fetch(context.Background(), false); err != nil || string(data) != "bundle" {
		t.Fatalf("HTTPS to HTTPS: %q %v", data, err)
	}
}

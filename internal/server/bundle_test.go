package server

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/continuums/attest/internal/bundle"
	"github.com/continuums/attest/internal/project"
)

func rsaKeys(t *testing.T) (priv, pub string) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pb}))
}

// companyPolicy denies pods without the given label.
func companyPolicy(label string) string {
	return fmt.Sprintf(`package company.labels

import rego.v1

deny contains msg if {
	input.resource.kind == "Pod"
	not input.resource.metadata.labels[%q]
	msg := "pod has no %s label"
}
`, label, label)
}

func buildBundle(t *testing.T, rev, rego, key string) []byte {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"company/labels.rego": rego})
	b, err := bundle.Build(dir, bundle.BuildOptions{Revision: rev, SigningKey: key, KeyID: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := bundle.Write(&buf, b); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// bundleServer serves whatever it is told to, with an ETag, and counts
// 304s.
type bundleServer struct {
	mu       sync.Mutex
	data     []byte
	etag     string
	mode     string // "", "garbage", "hang", "500"
	notMod   int
	requests int
	release  chan struct{}
}

func (b *bundleServer) set(data []byte, etag, mode string) {
	b.mu.Lock()
	b.data, b.etag, b.mode = data, etag, mode
	b.mu.Unlock()
}

func (b *bundleServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	data, etag, mode := b.data, b.etag, b.mode
	b.requests++
	b.mu.Unlock()
	switch mode {
	case "hang":
		select {
		case <-r.Context().Done():
		case <-b.release:
		}
		return
	case "garbage":
		w.Write([]byte("<html>not a bundle</html>"))
		return
	case "500":
		http.Error(w, "upstream broke", 500)
		return
	}
	if r.Header.Get("If-None-Match") == etag {
		b.mu.Lock()
		b.notMod++
		b.mu.Unlock()
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("ETag", etag)
	w.Write(data)
}

const unlabelledPod = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"default"},"spec":{"containers":[{"name":"c","image":"registry.company.com/app:1.0"}]}}`

func TestSignedBundleFromURL(t *testing.T) {
	priv, pub := rsaKeys(t)
	otherPriv, _ := rsaKeys(t)
	bs := &bundleServer{release: make(chan struct{})}
	defer close(bs.release)
	hs := httptest.NewServer(bs)
	defer hs.Close()
	bs.set(buildBundle(t, "v1", companyPolicy("team"), priv), `"v1"`, "")

	o := newProject(t, map[string]string{
		".attest/policies.yaml": projectConfig + fmt.Sprintf(`policy:
  policy_bundle_url: %s/bundle.tar.gz
  bundle_verification:
    public_keys:
      - id: ci
        path: keys/ci.pem
`, hs.URL),
		"keys/ci.pem": pub,
	})
	o.NoBuiltin = true
	ts := startWith(t, o, []SourceOption{WithFetchOptions(bundle.WithFetchTimeout(300 * time.Millisecond))})
	ts.waitReady(t)
	ctx := context.Background()
	deny := func(want string) {
		t.Helper()
		_, body := ts.post(t, "/v1/admission", "application/json", review("u", "CREATE", unlabelledPod, ""))
		r := decode(t, body)
		if want == "" && !r.Allowed {
			t.Fatalf("denied: %s", body)
		}
		if want != "" && (r.Allowed || !strings.Contains(r.Result.Message, want)) {
			t.Fatalf("want a denial with %q: %s", want, body)
		}
	}
	deny("pod has no team label")
	if s := ts.Snapshot(); s.Source != "url" || s.Revision != "v1" {
		t.Errorf("snapshot %s %s", s.Source, s.Revision)
	}

	// Unchanged: a 304, no compile.
	before := ts.Snapshot()
	if err := ts.Reload(ctx, false); err != nil {
		t.Fatal(err)
	}
	if ts.Snapshot() != before || bs.notMod != 1 {
		t.Errorf("unchanged bundle: snapshot swapped %v, 304s %d", ts.Snapshot() != before, bs.notMod)
	}

	// A new revision is swapped in under the running server.
	bs.set(buildBundle(t, "v2", companyPolicy("cost-center"), priv), `"v2"`, "")
	if err := ts.Reload(ctx, false); err != nil {
		t.Fatal(err)
	}
	deny("pod has no cost-center label")

	// Every bad bundle is refused; v2 stays in use.
	unsigned := buildBundle(t, "v3", companyPolicy("x"), "")
	bad := []struct {
		name, mode, reason string
		data               []byte
	}{
		{"unsigned", "", "verify", unsigned},
		{"signed with another key", "", "verify", buildBundle(t, "v3", companyPolicy("x"), otherPriv)},
		{"garbage", "garbage", "verify", nil},
		{"server error", "500", "download", nil},
		{"hangs", "hang", "download", nil},
		{"does not compile", "", "compile", buildBundle(t, "v3", "package company.labels\n\nimport rego.v1\n\ndeny contains msg if {\n\tmsg := no_such_function(1)\n}\n", priv)},
	}
	for i, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			bs.set(b.data, fmt.Sprintf(`"bad%d"`, i), b.mode)
			err := ts.Reload(ctx, false)
			if err == nil {
				t.Fatal("bad bundle accepted")
			}
			if ts.Snapshot().Revision != "v2" {
				t.Fatalf("revision %q in use, want v2 kept", ts.Snapshot().Revision)
			}
			deny("pod has no cost-center label")
			if v := sample(ts.scrape(t), "attest_bundle_load_failures_total", map[string]string{"source": "url", "reason": b.reason}); v < 1 {
				t.Errorf("failure with reason %s not counted (%v)", b.reason, err)
			}
		})
	}
	fams := ts.scrape(t)
	if v := sample(fams, "attest_bundle_info", map[string]string{"source": "url", "revision": "v2"}); v != 1 {
		t.Errorf("attest_bundle_info{revision=v2} = %v", v)
	}

	// The URL down and a local file changed: the local change applies,
	// beside the verified copy of v2, and the download failure is counted.
	bs.set(nil, `"down"`, "500")
	failed := sample(ts.scrape(t), "attest_bundle_load_failures_total", map[string]string{"source": "url", "reason": "download"})
	lastGood := sample(ts.scrape(t), "attest_bundle_last_successful_load_timestamp_seconds", nil)
	writeFiles(t, o.Dir, map[string]string{"policies/local.rego": "package local\n\nimport rego.v1\n\ndeny contains \"local rule\" if input.resource.kind == \"Pod\"\n"})
	if err := ts.Reload(ctx, false); err != nil {
		t.Fatalf("local change while the URL is down: %v", err)
	}
	deny("local rule")
	deny("pod has no cost-center label")
	if v := sample(ts.scrape(t), "attest_bundle_load_failures_total", map[string]string{"source": "url", "reason": "download"}); v != failed+1 {
		t.Errorf("download failures %v, want %v", v, failed+1)
	}
	if v := sample(ts.scrape(t), "attest_bundle_last_successful_load_timestamp_seconds", nil); v != lastGood {
		t.Errorf("a load with the URL down moved the last good load from %v to %v", lastGood, v)
	}
	// Nor does an unverifiable bundle at the URL hold back a local change.
	bs.set(unsigned, `"unsigned"`, "")
	writeFiles(t, o.Dir, map[string]string{"policies/local.rego": "package local\n\nimport rego.v1\n\ndeny contains \"local rule 2\" if input.resource.kind == \"Pod\"\n"})
	if err := ts.Reload(ctx, false); err != nil {
		t.Fatalf("local change while the URL serves a bad bundle: %v", err)
	}
	deny("local rule 2")
	deny("pod has no cost-center label")
}

// A signed bundle on disk (policy_bundle_path), replaced by a tampered one.
func TestSignedBundlePath(t *testing.T) {
	priv, pub := rsaKeys(t)
	o := signedPathProject(t, "bundles/company.tar.gz", pub)
	writeFiles(t, o.Dir, map[string]string{"bundles/company.tar.gz": string(buildBundle(t, "p1", companyPolicy("team"), priv))})
	ts := start(t, o)
	ts.waitReady(t)
	if s := ts.Snapshot(); s.Source != "path" || s.Revision != "p1" {
		t.Fatalf("snapshot %s %q", s.Source, s.Revision)
	}
	writeFiles(t, o.Dir, map[string]string{"bundles/company.tar.gz": string(buildBundle(t, "p2", companyPolicy("x"), ""))})
	if err := ts.Reload(context.Background(), false); err == nil || !strings.Contains(err.Error(), "signature") {
		t.Fatalf("unsigned bundle on disk: %v", err)
	}
	if ts.Snapshot().Revision != "p1" {
		t.Fatal("last good bundle not kept")
	}
	writeFiles(t, o.Dir, map[string]string{"bundles/company.tar.gz": string(buildBundle(t, "p3", companyPolicy("x"), priv))})
	if err := ts.Reload(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	if ts.Snapshot().Revision != "p3" {
		t.Fatal("a change of the local bundle was not loaded")
	}
}

// A signed bundle directory (policy_bundle_path) with an unsigned .rego
// linked into it: what is loaded is what was verified, so the linked file
// is not. It was: OPA's reader skips symbolic links, so the signature
// checked out, and the project's folder walk then followed the link.
func TestSignedBundleDirectoryLoadsOnlyWhatWasVerified(t *testing.T) {
	// bundles/company, and policies/ itself (docs/configuration.md's
	// example), which the project also walks as its policy folder.
	for _, dir := range []string{"bundles/company", "policies"} {
		t.Run(dir, func(t *testing.T) { signedBundleDirectory(t, dir) })
	}
}

func signedBundleDirectory(t *testing.T, dir string) {
	priv, pub := rsaKeys(t)
	o := signedPathProject(t, dir, pub)
	zr, err := gzip.NewReader(bytes.NewReader(buildBundle(t, "d1", companyPolicy("team"), priv)))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for tr := tar.NewReader(zr); ; {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[filepath.Join(dir, strings.TrimPrefix(h.Name, "/"))] = string(body)
	}
	files["outside/evil.rego"] = "package company.evil\nimport rego.v1\ndeny contains \"evil\" if true\n"
	// A Gatekeeper template and constraint linked into the folder: OPA's
	// verification skips links, so no signature covers them.
	files["outside/template.yaml"] = denyPodsTemplate
	files["outside/constraint.yaml"] = denyPodsConstraint
	writeFiles(t, o.Dir, files)
	for link, target := range map[string]string{"company/evil.rego": "evil.rego", "template.yaml": "template.yaml", "constraint.yaml": "constraint.yaml"} {
		if err := os.Symlink(filepath.Join(o.Dir, "outside", target), filepath.Join(o.Dir, dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	ts := start(t, o)
	if err := ts.Reload(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	ts.waitReady(t)
	if s := ts.Snapshot(); s.Source != "path" || s.Revision != "d1" {
		t.Fatalf("snapshot %s %q", s.Source, s.Revision)
	}
	var names []string
	for _, m := range ts.Snapshot().Project.Policies.Modules {
		names = append(names, m.Path)
	}
	if len(names) != 1 || !strings.HasSuffix(names[0], "#company/labels.rego") {
		t.Fatalf("modules %v, want only the signed company/labels.rego, once", names)
	}
	if gk := ts.Snapshot().Project.Gatekeeper; gk != nil && !gk.Empty() {
		t.Fatal("unsigned Gatekeeper templates loaded from the bundle folder")
	}
}

// signedPathProject is a project without the built-in library whose
// policy_bundle_path is path, verified with the public key pub (id ci).
func signedPathProject(t *testing.T, path, pub string) project.Options {
	o := newProject(t, map[string]string{
		".attest/policies.yaml": projectConfig + `policy:
  policy_bundle_path: ` + path + `
  bundle_verification:
    public_keys:
      - id: ci
        key: |
` + indent(pub, "          "),
	})
	o.NoBuiltin = true
	return o
}

func indent(s, pre string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return pre + strings.Join(lines, "\n"+pre) + "\n"
}

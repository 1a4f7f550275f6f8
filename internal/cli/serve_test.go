package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func runCmd(t *testing.T, ctx context.Context, args ...string) run {
	t.Helper()
	var out, errb bytes.Buffer
	s := Streams{In: strings.NewReader(""), Out: &out, Err: &errb}
	var code int
	c := newServeCmd(s)
	if args[0] == "bundle" {
		c = newBundleCmd(s)
		args = args[1:]
	} else {
		args = args[1:]
	}
	c.SetArgs(args)
	c.SetOut(&out)
	c.SetErr(&errb)
	c.SilenceUsage, c.SilenceErrors = true, true
	if err := c.ExecuteContext(ctx); err != nil {
		code = 2
		if ee, ok := err.(exitError); ok {
			code = ee.code
		} else {
			errb.WriteString(err.Error())
		}
	}
	return run{code, out.String(), errb.String()}
}

func TestBundleCommands(t *testing.T) {
	dir := t.TempDir()
	k, _ := rsa.GenerateKey(rand.Reader, 2048)
	pub, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	privFile, pubFile := filepath.Join(dir, "key.pem"), filepath.Join(dir, "pub.pem")
	os.WriteFile(privFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}), 0o600)
	os.WriteFile(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644)
	src := filepath.Join(dir, "src", "company")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "p.rego"), []byte("package company.p\n\nimport rego.v1\n\ndeny contains \"no\" if input.resource.kind == \"Secret\"\n"), 0o644)
	ctx := context.Background()
	unsigned := filepath.Join(dir, "unsigned.tar.gz")
	signed := filepath.Join(dir, "signed.tar.gz")
	steps := []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"bundle", "build", filepath.Join(dir, "src"), "-o", unsigned, "--revision", "r1"}, 0, ""},
		{[]string{"bundle", "validate", unsigned}, 0, `revision "r1", unsigned`},
		{[]string{"bundle", "validate", unsigned, "--verification-key", pubFile}, 2, ""},
		{[]string{"bundle", "sign", unsigned, "--signing-key", privFile, "-o", signed}, 0, ""},
		{[]string{"bundle", "validate", signed, "--verification-key", pubFile}, 0, "signature verified"},
		{[]string{"bundle", "build", filepath.Join(dir, "src"), "-o", signed, "--signing-key", privFile, "--key-id", "ci"}, 0, ""},
		{[]string{"bundle", "validate", signed, "--verification-key", pubFile, "--key-id", "ci"}, 0, "signature verified"},
		{[]string{"bundle", "sign", unsigned}, 2, ""},
		{[]string{"bundle", "sign", filepath.Join(dir, "src"), "--signing-key", privFile}, 2, ""},
		{[]string{"bundle", "sign", filepath.Join(dir, "src"), "--signing-key", privFile, "-o", filepath.Join(dir, "dirsigned.tar.gz")}, 0, ""},
		// What validate (and the server) would refuse is not written.
		{[]string{"bundle", "build", filepath.Join(dir, "src"), "-o", filepath.Join(dir, "roots.tar.gz"), "--root", "other"}, 2, ""},
		{[]string{"bundle", "build", filepath.Join(dir, "bad"), "-o", filepath.Join(dir, "bad.tar.gz")}, 2, ""},
		// Rego calling the built-in library builds and validates, as it
		// loads in policy check and the server.
		{[]string{"bundle", "build", filepath.Join(dir, "uselib"), "-o", filepath.Join(dir, "uselib.tar.gz")}, 0, ""},
		{[]string{"bundle", "validate", filepath.Join(dir, "uselib.tar.gz")}, 0, "1 modules"},
	}
	os.MkdirAll(filepath.Join(dir, "uselib", "company"), 0o755)
	os.WriteFile(filepath.Join(dir, "uselib", "company", "images.rego"), []byte("package company.images\n\nimport rego.v1\n\nimport data.attest.lib\n\ndeny contains \"unpinned\" if {\n\tsome c in input.resource.spec.containers\n\tnot lib.image_has_digest(c.image)\n}\n"), 0o644)
	os.MkdirAll(filepath.Join(dir, "bad"), 0o755)
	os.WriteFile(filepath.Join(dir, "bad", "p.rego"), []byte("package bad\n\nimport rego.v1\n\ndeny contains \"no\" if no_such_function(input)\n"), 0o644)
	for _, st := range steps {
		r := runCmd(t, ctx, st.args...)
		if r.code != st.code || !strings.Contains(r.stdout, st.out) {
			t.Fatalf("%v: exit %d (want %d)\n%s\n%s", st.args, r.code, st.code, r.stdout, r.stderr)
		}
	}
	for _, name := range []string{"roots.tar.gz", "bad.tar.gz"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			t.Errorf("%s was written although it does not load", name)
		}
	}
}

func TestServeCommand(t *testing.T) {
	inExamples(t)
	// Not in a pod (whatever machine runs the tests): no cluster to read.
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBERNETES_SERVICE_PORT", "")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan run, 1)
	go func() { done <- runCmd(t, ctx, "serve", "--addr", addr, "--poll-interval", "0") }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("serve not ready: %v %+v", err, <-done)
		}
	}
	// /v1/evaluate answers what `policy check - --format json` prints.
	manifest, err := os.ReadFile(filepath.Join("k8s", "deployment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post("http://"+addr+"/v1/evaluate", "application/yaml", bytes.NewReader(manifest))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := execute(t, string(manifest), "policy", "check", "-", "--format", "json")
	if string(got) != want.stdout {
		t.Errorf("/v1/evaluate differs from policy check - --format json:\n%s\n---\n%s", got, want.stdout)
	}
	if resp.Header.Get("X-Attest-Exit-Code") != strconv.Itoa(want.code) {
		t.Errorf("X-Attest-Exit-Code %q, CLI exit %d", resp.Header.Get("X-Attest-Exit-Code"), want.code)
	}
	cancel()
	r := <-done
	if r.code != 0 {
		t.Fatalf("serve exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, `"level":"INFO","msg":"not running in a Kubernetes pod and no --kubeconfig: Namespace labels are not read`) {
		t.Errorf("no log that Namespace labels are not read:\n%s", r.stderr)
	}
	// Not loopback without TLS: refused.
	if r := runCmd(t, context.Background(), "serve", "--addr", "0.0.0.0:0"); r.code != 2 || !strings.Contains(r.stderr, "loopback") {
		t.Errorf("plain HTTP on 0.0.0.0: exit %d %s", r.code, r.stderr)
	}
}

// TestServeKubeconfig: a kubeconfig that cannot be loaded is a
// configuration error (exit 2, before anything is served), and so is one
// given while the cluster's Namespaces are not to be read.
func TestServeKubeconfig(t *testing.T) {
	inExamples(t)
	missing := filepath.Join(t.TempDir(), "kubeconfig")
	r := runCmd(t, context.Background(), "serve", "--addr", "127.0.0.1:0", "--kubeconfig", missing)
	if r.code != 2 || !strings.Contains(r.stderr, "--cluster-namespaces") || !strings.Contains(r.stderr, "kubeconfig "+missing+": open ") {
		t.Errorf("missing kubeconfig: exit %d %s", r.code, r.stderr)
	}
	r = runCmd(t, context.Background(), "serve", "--addr", "127.0.0.1:0", "--cluster-namespaces=false", "--kubeconfig", missing)
	if r.code != 2 || !strings.Contains(r.stderr, "--kubeconfig is only read with --cluster-namespaces") {
		t.Errorf("--kubeconfig with --cluster-namespaces=false: exit %d %s", r.code, r.stderr)
	}
}

package deploy

import (
	"bufio"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestImage checks the Dockerfile without a container runtime: its own
// `go build` line, run here, gives a static binary that starts (the
// distroless static base has no libc), and its USER is the Deployment's
// runAsUser and runAsGroup.
func TestImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds attest (about two minutes with a cold cache)")
	}
	lines := dockerfile(t)
	var build, user, from string
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "FROM golang:"):
			from, _, _ = strings.Cut(strings.TrimPrefix(l, "FROM golang:"), " ")
		case strings.HasPrefix(l, "RUN ") && strings.Contains(l, " go build "):
			build = strings.TrimPrefix(l, "RUN ")
		case strings.HasPrefix(l, "USER "):
			user = strings.TrimPrefix(l, "USER ")
		}
	}
	if build == "" || user == "" {
		t.Fatalf("Dockerfile: no RUN ... go build line or no USER (build %q, user %q)", build, user)
	}
	// The official Go image builds with GOTOOLCHAIN=local: its Go must be
	// the one go.mod asks for.
	mod, err := os.ReadFile(filepath.Join("..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	var goVersion string
	for _, l := range strings.Split(string(mod), "\n") {
		if v, ok := strings.CutPrefix(l, "go "); ok {
			goVersion = strings.TrimSpace(v)
		}
	}
	if from != goVersion {
		t.Errorf("Dockerfile builds with golang:%s, go.mod asks for go %s", from, goVersion)
	}

	var dep struct {
		Spec struct {
			Template struct {
				Spec struct {
					SecurityContext struct {
						RunAsUser  int `yaml:"runAsUser"`
						RunAsGroup int `yaml:"runAsGroup"`
					} `yaml:"securityContext"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	data, err := os.ReadFile("deployment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &dep); err != nil {
		t.Fatal(err)
	}
	sc := dep.Spec.Template.Spec.SecurityContext
	if want := fmt.Sprintf("%d:%d", sc.RunAsUser, sc.RunAsGroup); user != want {
		t.Errorf("Dockerfile USER %s, deployment.yaml runs as %s", user, want)
	}

	if !strings.Contains(build, "-o /out/attest") || !strings.Contains(build, "${VERSION}") {
		t.Fatalf("build line %q: want -o /out/attest and ${VERSION}", build)
	}
	bin := filepath.Join(t.TempDir(), "attest")
	cmdline := strings.ReplaceAll(strings.ReplaceAll(build, "-o /out/attest", "-o "+bin), "${VERSION}", "image-test")
	cmd := exec.Command("sh", "-c", cmdline)
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmdline, err, out)
	}

	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("the binary asks for a dynamic loader; distroless static has none")
		}
	}
	if len(libs) != 0 {
		t.Errorf("the binary needs shared libraries %v; distroless static has none", libs)
	}
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "attest version image-test" {
		t.Errorf("attest --version: %q, %v", out, err)
	}
}

// dockerfile returns the Dockerfile's instructions, continuation lines
// joined and comments dropped.
func dockerfile(t *testing.T) []string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if s, ok := strings.CutSuffix(l, "\\"); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(l)
		out = append(out, cur.String())
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

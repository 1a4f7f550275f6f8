package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestCIFilesRunAsWritten reads the attest commands out of the example
// CI files themselves (Jenkins, GitLab, GitHub Actions) and runs each one,
// as written, in a copy of examples/: the files users copy cannot drift
// from what is tested. The detailed checks of each command's output are
// in TestJenkinsExample, TestGitLabExample and TestGitHubExample; here the
// list of commands and their exit codes must match.
func TestCIFilesRunAsWritten(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("GITHUB_STEP_SUMMARY", "")
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("..", "..", "examples"))); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	want := map[string]map[string]int{ // file -> command -> exit code
		"Jenkinsfile": {
			"attest policy validate k8s/":            0,
			"attest policy check k8s/ --format json": 1, // the pipeline then fails on result.violations
		},
		".gitlab-ci.yml": {
			"attest policy validate manifests/":                                           0,
			"attest policy check manifests/ --strict -o junit=policy-results.xml -o text": 1, // a warning fails under --strict
		},
		".github/workflows/policy-validation.yml": {
			"attest policy validate policies/":                             0,
			"attest policy test policies/":                                 0,
			"attest policy scan --format sarif --output policy-scan.sarif": 1,
		},
	}
	cmd := regexp.MustCompile(`attest [^'"\n]+`)
	for file, cmds := range want {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var found []string
		for _, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "#") {
				continue
			}
			for _, m := range cmd.FindAllString(line, -1) {
				found = append(found, strings.TrimSpace(m))
			}
		}
		if len(found) != len(cmds) {
			t.Errorf("%s has commands %q, the test knows %d", file, found, len(cmds))
		}
		for _, c := range found {
			code, ok := cmds[c]
			if !ok {
				t.Errorf("%s: command %q is not in this test: add it with its exit code", file, c)
				continue
			}
			r := execute(t, "", strings.Fields(c)[1:]...)
			if r.code != code {
				t.Errorf("%s: %q exited %d, want %d\n%s%s", file, c, r.code, code, r.stdout, r.stderr)
			}
		}
	}
	for _, out := range []string{"policy-results.xml", "policy-scan.sarif"} {
		if _, err := os.Stat(out); err != nil {
			t.Errorf("the CI files' report %s was not written: %v", out, err)
		}
	}
}

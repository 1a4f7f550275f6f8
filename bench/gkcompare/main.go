// Command gkcompare checks that gator test (-o json) and attest policy check
// (--format json) report the same Gatekeeper violations. Both are reduced to
// the set of (kind/namespace/name, constraint, message) tuples: a set, since
// gator reviews an object once when the corpus has two files defining the
// same kind, namespace and name, and attest reviews each document.
//
//	gkcompare -gator gator.json -attest attest.json
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
)

func main() {
	gatorFile := flag.String("gator", "", "gator test -o json output")
	attestFile := flag.String("attest", "", "attest policy check --format json output")
	flag.Parse()
	g, err := readGator(*gatorFile)
	if err != nil {
		fail(err)
	}
	a, err := readAttest(*attestFile)
	if err != nil {
		fail(err)
	}
	onlyG, onlyA := diff(g, a), diff(a, g)
	if len(onlyG)+len(onlyA) == 0 {
		fmt.Printf("same findings: %d distinct violations\n", len(g))
		return
	}
	fmt.Printf("DIFFERENT: %d only in gator, %d only in attest\n", len(onlyG), len(onlyA))
	for i, x := range onlyG {
		if i == 10 {
			break
		}
		fmt.Println("  gator only: ", x)
	}
	for i, x := range onlyA {
		if i == 10 {
			break
		}
		fmt.Println("  attest only:", x)
	}
	os.Exit(1)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "gkcompare:", err)
	os.Exit(2)
}

func tuple(kind, ns, name, constraint, msg string) string {
	return kind + "/" + ns + "/" + name + "\t" + constraint + "\t" + msg
}

func readGator(path string) (map[string]bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rs []struct {
		Msg        string
		Constraint struct{ Metadata struct{ Name string } }
		Violating  struct {
			Kind     string
			Metadata struct{ Name, Namespace string }
		} `json:"violatingObject"`
	}
	if err := json.Unmarshal(data, &rs); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := map[string]bool{}
	for _, r := range rs {
		out[tuple(r.Violating.Kind, r.Violating.Metadata.Namespace, r.Violating.Metadata.Name, r.Constraint.Metadata.Name, r.Msg)] = true
	}
	return out, nil
}

func readAttest(path string) (map[string]bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rep struct {
		Findings []struct {
			Constraint, Message string
			Resource            struct{ Kind, Namespace, Name string }
		}
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := map[string]bool{}
	for _, f := range rep.Findings {
		out[tuple(f.Resource.Kind, f.Resource.Namespace, f.Resource.Name, f.Constraint, f.Message)] = true
	}
	return out, nil
}

func diff(a, b map[string]bool) []string {
	var out []string
	for k := range a {
		if !b[k] {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

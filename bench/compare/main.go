// Command compare checks that conftest and attest reported the same findings
// on the same corpus with the same conftest-style policies.
//
//	go run ./bench/compare -root DIR -conftest conftest.json -attest attest.json
//
// Both reports are reduced to a sorted multiset of (file, kind, message)
// triples, where file is relative to -root and kind is "deny" for failures
// and "warn" for warnings. It prints one summary line and exits 0 when the
// multisets are equal, 1 (listing the first differences) when they are not,
// and 2 when a report cannot be read.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Item is one normalised finding.
type Item struct {
	File    string
	Kind    string // "deny" or "warn"
	Message string
}

func (i Item) String() string { return fmt.Sprintf("%s [%s] %s", i.File, i.Kind, i.Message) }

func main() {
	root := flag.String("root", "", "corpus directory: file names are made relative to it")
	ct := flag.String("conftest", "", "conftest --output json report")
	at := flag.String("attest", "", "attest --format json report")
	max := flag.Int("max", 20, "differences to list")
	flag.Parse()
	if *ct == "" || *at == "" {
		fmt.Fprintln(os.Stderr, "usage: compare -root DIR -conftest FILE -attest FILE")
		os.Exit(2)
	}
	a, err := readFile(*ct, func(r io.Reader) ([]Item, error) { return ParseConftest(r, *root) })
	if err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(2)
	}
	b, err := readFile(*at, func(r io.Reader) ([]Item, error) { return ParseAttest(r, *root) })
	if err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(2)
	}
	onlyA, onlyB := Diff(a, b)
	deny, warn := count(a)
	if len(onlyA) == 0 && len(onlyB) == 0 {
		fmt.Printf("same findings: %d deny, %d warn\n", deny, warn)
		return
	}
	fmt.Printf("DIFFERENT findings: conftest %d, attest %d; %d only in conftest, %d only in attest\n",
		len(a), len(b), len(onlyA), len(onlyB))
	for i, it := range onlyA {
		if i == *max {
			fmt.Printf("  ... %d more only in conftest\n", len(onlyA)-i)
			break
		}
		fmt.Println("  only conftest:", it)
	}
	for i, it := range onlyB {
		if i == *max {
			fmt.Printf("  ... %d more only in attest\n", len(onlyB)-i)
			break
		}
		fmt.Println("  only attest:  ", it)
	}
	os.Exit(1)
}

func readFile(path string, parse func(io.Reader) ([]Item, error)) ([]Item, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	items, err := parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return items, nil
}

func count(items []Item) (deny, warn int) {
	for _, it := range items {
		if it.Kind == "warn" {
			warn++
		} else {
			deny++
		}
	}
	return
}

// Rel makes a report's file name relative to root, with forward slashes.
func Rel(root, file string) string {
	file = filepath.Clean(file)
	if root != "" {
		r := filepath.Clean(root)
		if rel, err := filepath.Rel(r, file); err == nil && !strings.HasPrefix(rel, "..") {
			file = rel
		} else if abs, err := filepath.Abs(file); err == nil {
			if ra, err := filepath.Abs(r); err == nil {
				if rel, err := filepath.Rel(ra, abs); err == nil && !strings.HasPrefix(rel, "..") {
					file = rel
				}
			}
		}
	}
	return filepath.ToSlash(file)
}

type conftestResult struct {
	Filename string `json:"filename"`
	Warnings []struct {
		Msg string `json:"msg"`
	} `json:"warnings"`
	Failures []struct {
		Msg string `json:"msg"`
	} `json:"failures"`
}

// ParseConftest reads `conftest test --output json`: an array with one
// entry per file (or per document), each with failures and warnings.
func ParseConftest(r io.Reader, root string) ([]Item, error) {
	var res []conftestResult
	if err := json.NewDecoder(r).Decode(&res); err != nil {
		return nil, fmt.Errorf("not a conftest JSON report: %w", err)
	}
	var out []Item
	for _, f := range res {
		file := Rel(root, f.Filename)
		for _, m := range f.Failures {
			out = append(out, Item{file, "deny", m.Msg})
		}
		for _, m := range f.Warnings {
			out = append(out, Item{file, "warn", m.Msg})
		}
	}
	sortItems(out)
	return out, nil
}

// ParseAttest reads `attest policy check --format json`: an object whose
// "findings" array holds one object per finding with a message, a kind
// (violation, warning or error) and a location.file. It is lenient about
// the schema's details (msg or message, file at the top or under location)
// so that it keeps working while the schema settles. Exempted findings are
// kept: conftest has no exemptions, and the bench configures none.
func ParseAttest(r io.Reader, root string) ([]Item, error) {
	var doc struct {
		Findings []map[string]any `json:"findings"`
	}
	if err := json.NewDecoder(r).Decode(&doc); err != nil {
		return nil, fmt.Errorf("not an attest JSON report: %w", err)
	}
	var out []Item
	for i, f := range doc.Findings {
		msg, _ := f["message"].(string)
		if msg == "" {
			msg, _ = f["msg"].(string)
		}
		file, _ := f["file"].(string)
		if loc, ok := f["location"].(map[string]any); ok && file == "" {
			file, _ = loc["file"].(string)
		}
		kind := "deny"
		switch k, _ := f["kind"].(string); k {
		case "warning", "warn":
			kind = "warn"
		case "error":
			return nil, fmt.Errorf("finding %d is an evaluation error: %s: %s", i, file, msg)
		}
		out = append(out, Item{Rel(root, file), kind, msg})
	}
	sortItems(out)
	return out, nil
}

func sortItems(items []Item) {
	slices.SortFunc(items, func(a, b Item) int {
		return strings.Compare(a.String(), b.String())
	})
}

// Diff returns the items of a not matched in b and of b not matched in a,
// counting duplicates (both lists must be sorted).
func Diff(a, b []Item) (onlyA, onlyB []Item) {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch c := strings.Compare(a[i].String(), b[j].String()); {
		case c == 0:
			i++
			j++
		case c < 0:
			onlyA = append(onlyA, a[i])
			i++
		default:
			onlyB = append(onlyB, b[j])
			j++
		}
	}
	onlyA = append(onlyA, a[i:]...)
	onlyB = append(onlyB, b[j:]...)
	return onlyA, onlyB
}

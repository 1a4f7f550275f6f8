package manifest

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/continuums/attest/internal/finding"
)

// manifestExts are the extensions Discover picks up inside directories.
var manifestExts = map[string]bool{".yaml": true, ".yml": true, ".json": true}

// Discover expands inputs into the files to load, in input order and then
// lexical order within each directory, each once. "-" stands for stdin. A
// file named explicitly is taken whatever its extension; inside directories
// only .yaml, .yml and .json files are, and hidden files and directories
// (.git, .github, .attest) and the skipped ones are not entered. A missing or
// unreadable input is an error and the others are still discovered.
func (l *Loader) Discover(ctx context.Context, inputs []string) ([]string, []finding.Error) {
	var (
		files []string
		errs  []finding.Error
		seen  = map[string]bool{}
	)
	add := func(p string) {
		key := p
		if p != "-" {
			key = filepath.Clean(p)
		}
		if !seen[key] {
			seen[key] = true
			files = append(files, p)
		}
	}
	fail := func(p string, err error) {
		errs = append(errs, finding.Error{Location: finding.Location{File: p}, Message: describeOSError(err).Error()})
	}
	skip := l.absSkipPaths()
	for _, in := range inputs {
		if err := ctx.Err(); err != nil {
			errs = append(errs, finding.Error{Location: finding.Location{File: in}, Message: "not read: " + err.Error()})
			break
		}
		if in == "-" {
			add(in)
			continue
		}
		fi, err := os.Stat(in)
		if err != nil {
			fail(in, err)
			continue
		}
		if !fi.IsDir() {
			add(in)
			continue
		}
		err = filepath.WalkDir(in, func(p string, d fs.DirEntry, err error) error {
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
			if err != nil {
				fail(p, err)
				if d != nil && d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if p == in {
				return nil // named explicitly: walked whatever its name
			}
			name := d.Name()
			if d.IsDir() {
				if strings.HasPrefix(name, ".") || l.skipDirs[name] || skip[absPath(p)] {
					return fs.SkipDir
				}
				return nil
			}
			if strings.HasPrefix(name, ".") || !manifestExts[strings.ToLower(filepath.Ext(name))] {
				return nil
			}
			if d.Type()&fs.ModeSymlink != 0 {
				// Follow links to files only; links to directories could loop.
				if st, err := os.Stat(p); err != nil || st.IsDir() {
					return nil
				}
			} else if !d.Type().IsRegular() {
				return nil
			}
			add(p)
			return nil
		})
		if err != nil {
			errs = append(errs, finding.Error{Location: finding.Location{File: in}, Message: "not fully read: " + err.Error()})
		}
	}
	return files, errs
}

func (l *Loader) absSkipPaths() map[string]bool {
	m := make(map[string]bool, len(l.skipPaths))
	for _, p := range l.skipPaths {
		m[absPath(p)] = true
	}
	return m
}

// absPath makes paths comparable whether given relative or absolute.
func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return filepath.Clean(p)
}

package manifest

import (
	"io"
	"os"
)

// Defaults for the guards against hostile or broken input.
const (
	DefaultMaxFileSize       = 64 << 20
	DefaultMaxDepth          = 256
	DefaultMaxAliasExpansion = 1_000_000
	binarySniffLen           = 8 << 10
)

// Loader finds and parses manifests. It holds only configuration, so one
// Loader may be used from many goroutines at once.
type Loader struct {
	maxFileSize       int64
	maxDepth          int
	maxAliasExpansion int
	stdin             io.Reader
	skipDirs          map[string]bool
	skipPaths         []string
}

// Option configures a Loader.
type Option func(*Loader)

// NewLoader returns a Loader with the defaults, then opts applied.
func NewLoader(opts ...Option) *Loader {
	l := &Loader{
		maxFileSize:       DefaultMaxFileSize,
		maxDepth:          DefaultMaxDepth,
		maxAliasExpansion: DefaultMaxAliasExpansion,
		stdin:             os.Stdin,
		skipDirs:          map[string]bool{},
	}
	for _, o := range opts {
		o(l)
	}
	return l
}

// WithMaxFileSize refuses files larger than n bytes (before reading them).
func WithMaxFileSize(n int64) Option {
	return func(l *Loader) {
		if n > 0 {
			l.maxFileSize = n
		}
	}
}

// WithMaxDepth refuses documents nested deeper than n mappings/sequences.
func WithMaxDepth(n int) Option {
	return func(l *Loader) {
		if n > 0 {
			l.maxDepth = n
		}
	}
}

// WithMaxAliasExpansion bounds how many nodes YAML aliases may expand to in
// one document, the defence against "billion laughs".
func WithMaxAliasExpansion(n int) Option {
	return func(l *Loader) {
		if n > 0 {
			l.maxAliasExpansion = n
		}
	}
}

// WithStdin sets what the input "-" reads.
func WithStdin(r io.Reader) Option {
	return func(l *Loader) { l.stdin = r }
}

// WithSkipDirs names directories (by base name) that Discover does not walk
// into, such as vendor or node_modules. Directories named on the command
// line are always walked.
func WithSkipDirs(names ...string) Option {
	return func(l *Loader) {
		for _, n := range names {
			l.skipDirs[n] = true
		}
	}
}

// WithSkipPaths names exact directories that Discover does not walk into,
// such as the policy directories of the project.
func WithSkipPaths(paths ...string) Option {
	return func(l *Loader) { l.skipPaths = append(l.skipPaths, paths...) }
}

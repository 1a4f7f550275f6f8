// Package library is attest's built-in policy library: Rego files embedded
// in the binary, laid out as the specification's section 10 (security/,
// compliance/, deployment/, context/), plus the shared helpers in lib/.
// Every rule file has a _test.rego next to it.
package library

import (
	"embed"
	"io/fs"
)

//go:embed lib security compliance deployment context
var files embed.FS

// FS returns the library's files, rooted at the library directory (paths
// like "security/container-security.rego"). Test files are included; the
// loader tells them apart by their _test.rego suffix.
func FS() fs.FS { return files }

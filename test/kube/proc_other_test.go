//go:build !linux

package kube

import "os/exec"

// dieWithParent: only Linux has a parent-death signal; elsewhere the
// cleanups alone stop the children.
func dieWithParent(*exec.Cmd) {}

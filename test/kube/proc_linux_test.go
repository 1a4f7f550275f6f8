package kube

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel kill the child if the test process dies
// without running its cleanups (a test timeout's panic, a SIGKILL), so no
// kube-apiserver or etcd is left running.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

package main

import (
	"os/exec"
	"syscall"
)

// setProcAttr makes the kernel kill a child (nginx, oauth2-proxy) if the test binary dies without
// running its cleanups (a go test timeout, a kill).
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

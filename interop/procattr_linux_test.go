package interop_test

import (
	"os/exec"
	"syscall"
)

// setProcAttr makes the kernel kill the IdP if the test binary dies without running its cleanups
// (a go test timeout, a kill).
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

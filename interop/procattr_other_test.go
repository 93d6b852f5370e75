//go:build !linux

package interop_test

import "os/exec"

// setProcAttr: outside Linux the IdP is killed by the tests' cleanups only.
func setProcAttr(*exec.Cmd) {}

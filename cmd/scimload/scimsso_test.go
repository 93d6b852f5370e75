package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// realServer is a scimsso built from this module, with its database, for the phases' tests against
// the real thing.
type realServer struct {
	t       *testing.T
	dir     string
	bin, db string
	logPath string
}

// buildScimsso builds scimsso into a temporary directory; its database is there too.
func buildScimsso(t *testing.T) *realServer {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs scimsso")
	}
	dir := t.TempDir()
	s := &realServer{t: t, dir: dir, bin: filepath.Join(dir, "scimsso"), db: filepath.Join(dir, "scimsso.db"), logPath: filepath.Join(dir, "serve.log")}
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	if out, err := exec.Command(goBin, "build", "-o", s.bin, "../scimsso").CombinedOutput(); err != nil {
		t.Fatalf("building scimsso: %v\n%s", err, out)
	}
	return s
}

// run runs an operator command on the database and returns its stdout.
func (s *realServer) run(args ...string) string {
	s.t.Helper()
	cmd := exec.Command(s.bin, append(args, "--db", s.db)...)
	cmd.Env = []string{}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		s.t.Fatalf("scimsso %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// serve starts scimsso serve on a free loopback port, its --base-url http://127.0.0.1 (every
// replica's is the service's), and returns the address it listens on; it is killed when the test ends.
func (s *realServer) serve() string {
	s.t.Helper()
	logf, err := os.Create(s.logPath)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { logf.Close() })
	srv := exec.Command(s.bin, "serve", "--addr", "127.0.0.1:0", "--metrics-addr", "off", "--base-url", "http://127.0.0.1", "--db", s.db)
	srv.Env, srv.Stderr = []string{}, logf
	if err := srv.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		b, _ := os.ReadFile(s.logPath)
		for _, l := range strings.Split(string(b), "\n") {
			var line struct{ Msg, Addr string }
			if json.Unmarshal([]byte(l), &line) == nil && line.Msg == "listening" {
				return line.Addr
			}
		}
	}
	s.t.Fatalf("scimsso serve did not listen:\n%s", s.log())
	return ""
}

// log is what the server logged so far.
func (s *realServer) log() string {
	b, _ := os.ReadFile(s.logPath)
	return string(b)
}

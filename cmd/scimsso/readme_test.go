package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scimsso/scimsso/samlsp/samltest"
)

// readmeSections returns the ```sh blocks of the README section whose heading line is heading, up to
// the next heading of any level.
func readmeSections(t *testing.T, readme, heading string) []string {
	t.Helper()
	i := strings.Index(readme, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("README.md has no section %q", heading)
	}
	sec := readme[i+len(heading)+2:]
	var blocks []string
	inBlock := false
	var cur strings.Builder
	for _, l := range strings.Split(sec, "\n") {
		switch {
		case !inBlock && strings.HasPrefix(l, "#") && !strings.HasPrefix(l, "###"):
			return blocks // the next section (its ### subsections belong to it)
		case !inBlock && l == "```sh":
			inBlock = true
			cur.Reset()
		case inBlock && l == "```":
			inBlock = false
			blocks = append(blocks, cur.String())
		case inBlock:
			cur.WriteString(l + "\n")
		}
	}
	return blocks
}

// freePort returns a loopback TCP port nothing listens on at the moment.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// TestREADME runs the shell blocks of the README's newcomer sections as a person pastes them: with
// bash (under set -euo pipefail, so any failing line fails the test), from the repository's top
// directory, with an environment holding only what a fresh shell has — go, a C compiler and curl on
// PATH, no scimsso — plus PORT (a free port) and, for the end-to-end setup, IDP_METADATA (a real IdP's
// metadata served on loopback, with SCIMSSO_ALLOW_HTTP_LOOPBACK_METADATA). It also checks what the blocks print and that they stop the server
// they started.
func TestREADME(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not installed")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed: the README's blocks use it")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH")
	}
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	goenv, err := exec.Command(goBin, "env", "GOMODCACHE", "GOCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	cacheDirs := strings.Fields(string(goenv))

	idp, err := samltest.New("https://idp.example/acme", "https://idp.example/acme/sso", time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	idpSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/samlmetadata+xml")
		w.Write(idp.Metadata())
	}))
	t.Cleanup(idpSrv.Close)

	for _, tt := range []struct {
		heading string
		env     []string
		want    []string
	}{
		{"## Five minutes with SCIM", nil, []string{
			"created tenant acme", "ready", `"userName":"alice@acme.com"`, `"totalResults":1`, "OPERATION", " 201 ",
		}},
		// The IdP is on loopback: the setting that allows it comes from the environment, as an
		// operator testing against an IdP on their own machine would set it.
		{"## Setting up a tenant end to end", []string{"IDP_METADATA=" + idpSrv.URL + "/metadata", "SCIMSSO_ALLOW_HTTP_LOOPBACK_METADATA=true"}, []string{
			"/setup/scimsso_setup_", "SCIM base:    http://localhost:", "state testing", `"userName":"admin@acme.com"`, "imported 2 departments",
			"state active", "set the password of admin@acme.com", "/saml/acme/test?token=",
		}},
	} {
		t.Run(strings.TrimLeft(tt.heading, "# "), func(t *testing.T) {
			blocks := readmeSections(t, readme, tt.heading)
			if len(blocks) == 0 {
				t.Fatalf("README section %q has no ```sh block", tt.heading)
			}
			dir := t.TempDir()
			script := filepath.Join(dir, "readme.sh")
			if err := os.WriteFile(script, []byte("set -euo pipefail\n"+strings.Join(blocks, "\n")), 0o600); err != nil {
				t.Fatal(err)
			}
			home, tmp := filepath.Join(dir, "home"), filepath.Join(dir, "tmp")
			for _, d := range []string{home, tmp} {
				if err := os.Mkdir(d, 0o700); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bash, script)
			cmd.Dir = root
			// GOPATH is the test's, so go install writes nowhere else; the caches are the real ones, so
			// nothing is downloaded (GOPROXY=off) and the build reuses what TestMain compiled.
			cmd.Env = append([]string{
				"PATH=" + filepath.Dir(goBin) + ":/usr/local/bin:/usr/bin:/bin",
				"HOME=" + home, "TMPDIR=" + tmp, "GOPATH=" + filepath.Join(dir, "gopath"),
				"GOMODCACHE=" + cacheDirs[0], "GOCACHE=" + cacheDirs[1], "GOPROXY=off", "GOTOOLCHAIN=local",
				// No VCS stamping: HOME is the test's, so a safe.directory of the real one is not there,
				// and go install would fail where the checkout belongs to another user (CI containers).
				"GOFLAGS=-buildvcs=false",
				"PORT=" + freePort(t),
				// The default metrics port (127.0.0.1:9090) would be shared with other tests running
				// at once; a reader's machine has one server.
				"SCIMSSO_METRICS_ADDR=127.0.0.1:0",
			}, tt.env...)
			// The compiler settings TestMain built with, so the build is the cached one.
			for _, kv := range os.Environ() {
				if strings.HasPrefix(kv, "CC=") || strings.HasPrefix(kv, "CXX=") || strings.HasPrefix(kv, "CGO_") {
					cmd.Env = append(cmd.Env, kv)
				}
			}
			// Its own process group, so a server a failed block left running is stopped with it.
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
			outPath, errPath := filepath.Join(dir, "stdout"), filepath.Join(dir, "stderr")
			outF, _ := os.Create(outPath)
			errF, _ := os.Create(errPath)
			cmd.Stdout, cmd.Stderr = outF, errF
			err := cmd.Run()
			outF.Close()
			errF.Close()
			pgid := cmd.Process.Pid
			t.Cleanup(func() { syscall.Kill(-pgid, syscall.SIGKILL) })
			stdout, _ := os.ReadFile(outPath)
			stderr, _ := os.ReadFile(errPath)
			if err != nil {
				t.Fatalf("the README's %q, run as pasted: %v\nstdout:\n%s\nstderr:\n%s", tt.heading, err, stdout, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(stdout), w) {
					t.Errorf("the README's %q did not print %q:\n%s", tt.heading, w, stdout)
				}
			}
			// The block stops its server: the process group empties.
			deadline := time.Now().Add(10 * time.Second)
			for syscall.Kill(-pgid, 0) == nil {
				if time.Now().After(deadline) {
					t.Fatalf("the README's %q left its server running", tt.heading)
				}
				time.Sleep(50 * time.Millisecond)
			}
			if err := syscall.Kill(-pgid, 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("process group %d: %v", pgid, err)
			}
		})
	}
}

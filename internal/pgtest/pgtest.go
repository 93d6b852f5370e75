// Package pgtest gives tests PostgreSQL databases: a fresh database on a running server for each test
// (URL), or a private server the test may stop and restart (Start). Without a server the tests are
// skipped, unless SCIMSSO_REQUIRE_POSTGRES=1 (as in CI), where a skip is a failure.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the pgx driver for database/sql
)

// Env names the PostgreSQL server the tests may use. Tests use that server or one they start
// themselves (Start), never one they happen to find: a PostgreSQL on this machine's usual port may
// hold somebody's data. ./test.sh starts a private server and sets it.
const Env = "SCIMSSO_TEST_POSTGRES"

// skip skips the test for why, or fails it where PostgreSQL is required.
func skip(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("SCIMSSO_REQUIRE_POSTGRES") == "1" {
		t.Fatalf("PostgreSQL is required (SCIMSSO_REQUIRE_POSTGRES=1): %s", why)
	}
	t.Skipf("no PostgreSQL, skipped: %s (./test.sh starts a private server; or set %s=postgres://…)", why, Env)
}

// ServerURL is the URL of the server the tests use, from the environment (Env); empty when none is
// named.
func ServerURL() string {
	return os.Getenv(Env)
}

// URL creates an empty database on the test server and returns its URL; the database is dropped when
// the test ends.
func URL(t testing.TB) string {
	t.Helper()
	server := ServerURL()
	if server == "" {
		skip(t, Env+" names no server")
	}
	return createDB(t, server)
}

func createDB(t testing.TB, server string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := sql.Open("pgx", server)
	if err != nil {
		skip(t, err.Error())
	}
	defer admin.Close()
	if err := admin.PingContext(ctx); err != nil {
		skip(t, fmt.Sprintf("cannot reach %s: %v", redact(server), err))
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "scimsso_test_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		a, err := sql.Open("pgx", server)
		if err != nil {
			return
		}
		defer a.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := a.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(server)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(the server URL)"
	}
	return u.Redacted()
}

// Server is a private PostgreSQL server of one test, which it may stop and start again.
type Server struct {
	t       testing.TB
	bin     string
	dir     string
	port    int
	runAs   *syscall.Credential
	started bool
}

// Start initialises and starts a private server on a free loopback port, from the PostgreSQL binaries
// Debian installs (/usr/lib/postgresql/N/bin, or PATH). As root it runs as the postgres user, since
// PostgreSQL refuses to run as root. It is stopped and removed when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := binDir()
	if bin == "" {
		skip(t, "initdb and pg_ctl not found (Debian package postgresql)")
	}
	s := &Server{t: t, bin: bin}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			skip(t, "running as root and there is no postgres user to run a server as")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.runAs = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	// The data directory must be reachable by the server's user: t.TempDir's parents are root's alone.
	dir, err := os.MkdirTemp("", "scimsso-pg-")
	if err != nil {
		t.Fatal(err)
	}
	s.dir = dir
	t.Cleanup(func() {
		s.Stop()
		os.RemoveAll(dir)
	})
	if s.runAs != nil {
		if err := os.Chown(dir, int(s.runAs.Uid), int(s.runAs.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	s.port = freePort(t)
	if out, err := s.run("initdb", "-D", filepath.Join(dir, "data"), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	s.Restart()
	return s
}

// URL creates an empty database on the server and returns its URL.
func (s *Server) URL() string {
	s.t.Helper()
	return createDB(s.t, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.port))
}

// Stop stops the server at once (fast shutdown: open connections are cut).
func (s *Server) Stop() {
	if !s.started {
		return
	}
	if out, err := s.run("pg_ctl", "-D", filepath.Join(s.dir, "data"), "-m", "fast", "-w", "stop"); err != nil {
		s.t.Errorf("pg_ctl stop: %v\n%s", err, out)
	}
	s.started = false
}

// Restart starts the server (again), on the same port and data.
func (s *Server) Restart() {
	s.t.Helper()
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -c port=%d -c unix_socket_directories=%s -c max_connections=200 -c fsync=on", s.port, s.dir)
	if out, err := s.run("pg_ctl", "-D", filepath.Join(s.dir, "data"), "-l", filepath.Join(s.dir, "log"), "-o", opts, "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "log"))
		s.t.Fatalf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
	s.started = true
}

func (s *Server) run(tool string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(s.bin, tool), args...)
	cmd.Dir = s.dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LANG=C.UTF-8"}
	if s.runAs != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.runAs}
	}
	return cmd.CombinedOutput()
}

// binDir is the newest /usr/lib/postgresql/N/bin holding initdb, or the directory of initdb on PATH.
func binDir() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p)
	}
	return ""
}

func version(binDir string) int {
	n, _ := strconv.Atoi(strings.Split(strings.TrimPrefix(binDir, "/usr/lib/postgresql/"), "/")[0])
	return n
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

package main

// The Docker files cannot be run here (no Docker engine), so these tests check what can be read from
// them: the build context the .dockerignore leaves, and the compose files' topology.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v2"
)

// repoRoot is the repository's top directory, relative to this package.
const repoRoot = "../.."

// dockerIgnore is a parsed .dockerignore, matched as Docker matches it: patterns are anchored at the
// context's root, a pattern that matches a directory excludes everything under it, "**" spans any
// number of directories, and the last matching pattern wins ("!" re-includes).
type dockerIgnore []struct {
	re      *regexp.Regexp
	include bool
}

func parseDockerIgnore(t *testing.T, path string) dockerIgnore {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var d dockerIgnore
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		p := strings.TrimSpace(sc.Text())
		if p == "" || strings.HasPrefix(p, "#") {
			continue
		}
		include := strings.HasPrefix(p, "!")
		p = filepath.ToSlash(filepath.Clean(strings.TrimPrefix(strings.TrimPrefix(p, "!"), "/")))
		var re strings.Builder
		re.WriteString("^")
		for i := 0; i < len(p); i++ {
			switch c := p[i]; {
			case strings.HasPrefix(p[i:], "**/"):
				re.WriteString("(.*/)?")
				i += 2
			case strings.HasPrefix(p[i:], "**"):
				re.WriteString(".*")
				i++
			case c == '*':
				re.WriteString("[^/]*")
			case c == '?':
				re.WriteString("[^/]")
			default:
				re.WriteString(regexp.QuoteMeta(string(c)))
			}
		}
		re.WriteString("$")
		d = append(d, struct {
			re      *regexp.Regexp
			include bool
		}{regexp.MustCompile(re.String()), include})
	}
	return d
}

// excludes reports whether the file at path (slash-separated, relative to the context) is left out.
func (d dockerIgnore) excludes(path string) bool {
	out := false
	for _, p := range d {
		// The path itself or any directory above it.
		for q := path; q != "." && q != "/" && q != ""; q = filepath.ToSlash(filepath.Dir(q)) {
			if p.re.MatchString(q) {
				out = !p.include
				break
			}
		}
	}
	return out
}

// TestDockerContext: the .dockerignore keeps every file `go build ./cmd/scimsso` reads (go.mod,
// go.sum, the sources and embedded files of the module's packages, from go list) and leaves out the
// repository's history, binaries, databases, secrets and node_modules.
func TestDockerContext(t *testing.T) {
	t.Parallel()
	ign := parseDockerIgnore(t, filepath.Join(repoRoot, ".dockerignore"))
	for _, p := range []string{
		".git/HEAD", ".git/objects/pack/x.pack", ".env",
		"interop/node_modules/saml-idp/bin/run.js", "node_modules/x/index.js",
		"scimsso", "scimload", "bin/scimsso", "cmd/scimsso/scimsso.test",
		"scimsso.db", "scimsso.db-wal", "scimsso.db-shm", "data/scimsso.db", "cmd/scimsso/x.db-journal",
		"cpu.prof", "cmd/scimsso/out/TestBrowserEmailFirstSignIn/login.png",
	} {
		if !ign.excludes(p) {
			t.Errorf(".dockerignore lets %s into the build context", p)
		}
	}

	needed := []string{"go.mod", "go.sum"}
	cmd := exec.Command("go", "list", "-deps", "-json", "./cmd/scimsso")
	cmd.Dir = repoRoot
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	abs, _ := filepath.Abs(repoRoot)
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var pkg struct {
			Dir                           string
			Module                        *struct{ Main bool }
			GoFiles, CgoFiles, EmbedFiles []string
		}
		if err := dec.Decode(&pkg); err != nil {
			t.Fatal(err)
		}
		if pkg.Module == nil || !pkg.Module.Main {
			continue
		}
		rel, err := filepath.Rel(abs, pkg.Dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range append(append(pkg.GoFiles, pkg.CgoFiles...), pkg.EmbedFiles...) {
			needed = append(needed, filepath.ToSlash(filepath.Join(rel, f)))
		}
	}
	if len(needed) < 10 {
		t.Fatalf("go list found only %v", needed)
	}
	for _, p := range needed {
		if ign.excludes(p) {
			t.Errorf(".dockerignore leaves out %s, which the image build needs", p)
		}
	}
}

// composeFile is a docker compose file read with YAML merge keys (<<: *anchor) resolved.
type composeFile struct {
	raw      string
	services map[string]map[string]any
}

func readCompose(t *testing.T, name string) composeFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, name))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Services map[string]map[string]any `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return composeFile{string(b), doc.Services}
}

// str returns v[key] as a string, "" when absent.
func str(v map[string]any, key string) string {
	s, _ := v[key].(string)
	return s
}

// dependsOn returns a service's depends_on as service → condition ("" for the short list form).
func dependsOn(svc map[string]any) map[string]string {
	deps := map[string]string{}
	switch d := svc["depends_on"].(type) {
	case []any:
		for _, x := range d {
			deps[fmt.Sprint(x)] = ""
		}
	case map[any]any:
		for k, v := range d {
			c, _ := v.(map[any]any)
			deps[fmt.Sprint(k)] = fmt.Sprint(c["condition"])
		}
	}
	return deps
}

// TestCompose: in both compose files the scimsso image is built by one service and run by every
// replica (the others never pull it); every replica has a health check; the proxy starts only when
// every replica is healthy, the replicas only when PostgreSQL is; and no password has a default: a
// ${…PASSWORD…} reference must fail without the variable (${VAR:?message}).
func TestCompose(t *testing.T) {
	t.Parallel()
	passwordRef := regexp.MustCompile(`\$\{(\w*PASSWORD\w*)([^}]*)\}`)
	for _, tt := range []struct {
		file     string
		replicas int
		proxy    string
	}{
		{"docker-compose.yml", 2, "proxy"},
		{"docker-compose.sqlite.yml", 1, ""},
	} {
		t.Run(tt.file, func(t *testing.T) {
			c := readCompose(t, tt.file)
			var builders []string
			image := ""
			for name, svc := range c.services {
				if svc["build"] != nil {
					builders = append(builders, name)
					image = str(svc, "image")
				}
			}
			if len(builders) != 1 || image == "" {
				t.Errorf("services that build an image: %v (image %q); want one, with an image name the replicas share", builders, image)
			}
			var replicas []string
			for name, svc := range c.services {
				if svc["build"] == nil && (image == "" || str(svc, "image") != image) {
					continue
				}
				replicas = append(replicas, name)
				if svc["build"] == nil && str(svc, "pull_policy") != "never" {
					t.Errorf("%s runs the image %s built by %v but may pull it: want pull_policy never", name, image, builders)
				}
				hc, _ := svc["healthcheck"].(map[any]any)
				if test, _ := hc["test"].([]any); len(test) < 2 || !strings.Contains(fmt.Sprint(test), "/readyz") {
					t.Errorf("%s has no health check of /readyz: %v", name, svc["healthcheck"])
				}
				if _, ok := c.services["postgres"]; ok && dependsOn(svc)["postgres"] != "service_healthy" {
					t.Errorf("%s starts before PostgreSQL is healthy: depends_on %v", name, dependsOn(svc))
				}
			}
			if len(replicas) != tt.replicas {
				t.Errorf("replicas running %s: %v, want %d", image, replicas, tt.replicas)
			}
			if tt.proxy != "" {
				deps := dependsOn(c.services[tt.proxy])
				for _, r := range replicas {
					if deps[r] != "service_healthy" {
						t.Errorf("%s starts before %s is healthy: depends_on %v", tt.proxy, r, deps)
					}
				}
			}
			refs := passwordRef.FindAllStringSubmatch(c.raw, -1)
			for _, m := range refs {
				if !strings.HasPrefix(m[2], ":?") && !strings.HasPrefix(m[2], "?") {
					t.Errorf("%s: %s has a default or may be empty; want ${%s:?message}", tt.file, m[0], m[1])
				}
			}
			if pg, ok := c.services["postgres"]; ok {
				env, _ := pg["environment"].(map[any]any)
				if pw := fmt.Sprint(env["POSTGRES_PASSWORD"]); !passwordRef.MatchString(pw) {
					t.Errorf("PostgreSQL's password is %q, want it from the environment", pw)
				}
				if len(refs) < 2 {
					t.Errorf("want the password taken from the environment by PostgreSQL and the replicas' SCIMSSO_DB, found %v", refs)
				}
			}
		})
	}
}

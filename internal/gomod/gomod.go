// Package gomod reads the version of a dependency from the module's go.mod, for the tests that tie an
// override of a dependency's internals to the version it was checked against (test binaries carry no
// dependency list in runtime/debug's build information).
package gomod

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Version returns the version go.mod requires of module path, found by walking up from the working
// directory (a test's is its package's). A replace directive for path is an error: the version
// required is then not the code built.
func Version(path string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		f, err := os.Open(filepath.Join(dir, "go.mod"))
		if err == nil {
			defer f.Close()
			return version(bufio.NewScanner(f), path)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("gomod: no go.mod above the working directory")
		}
		dir = parent
	}
}

func version(sc *bufio.Scanner, path string) (string, error) {
	found := ""
	for sc.Scan() {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "require "))
		switch {
		case len(f) >= 2 && f[0] == path && (f[1] == "=>" || len(f) >= 3 && f[2] == "=>"): // in a replace ( … ) block
			return "", fmt.Errorf("gomod: go.mod replaces %s", path)
		case len(f) >= 2 && f[0] == path:
			found = f[1]
		case len(f) >= 2 && f[0] == "replace" && f[1] == path:
			return "", fmt.Errorf("gomod: go.mod replaces %s", path)
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	if found == "" {
		return "", fmt.Errorf("gomod: go.mod does not require %s", path)
	}
	return found, nil
}

package sqlstore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// createPrivate creates the SQLite database file with mode 0600 when it does not exist. SQLite would
// create it 0644 (SQLITE_DEFAULT_FILE_PERMISSIONS), readable by every local user, and it holds session
// hashes, audit entries and the tenants' SP keys; SQLite gives the -wal and -shm files it creates later
// the mode of the database file, so they are private too. An existing file is left as it is, whatever
// its mode: changing an operator's permissions silently could break a setup that shares the file on
// purpose, so serve warns instead (ExposedFiles).
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sqlstore: create %s: %w", path, err)
	}
	return f.Close()
}

// ExposedFile is a database file that group or others may read or write.
type ExposedFile struct {
	Path string
	Mode fs.FileMode
}

// ExposedFiles returns those of the SQLite database at path and its -wal and -shm files that exist and
// whose mode lets group or others read or write them. Missing files are skipped.
func ExposedFiles(path string) ([]ExposedFile, error) {
	var out []ExposedFile
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("sqlstore: %w", err)
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			out = append(out, ExposedFile{Path: p, Mode: perm})
		}
	}
	return out, nil
}

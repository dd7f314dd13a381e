package iam

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// keyFile is the on-disk form of the store.
type keyFile struct {
	AccessKeys []record `json:"AccessKeys"`
}

// readKeys loads the key file; a missing file is an empty store.
func readKeys(path string) ([]record, error) {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read access keys: %w", err)
	}
	var f keyFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("access keys file %s is corrupt: %w", path, err)
	}
	return f.AccessKeys, nil
}

// writeKeys replaces the key file atomically: write a temporary file, fsync
// it, rename it over the old one, fsync the directory.
func writeKeys(path string, keys []record) error {
	data, err := json.MarshalIndent(keyFile{AccessKeys: keys}, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".access-keys-*.tmp")
	if err != nil {
		return fmt.Errorf("write access keys: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write access keys: %w", err)
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write access keys: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync access keys: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write access keys: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replace access keys: %w", err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

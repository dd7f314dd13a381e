package iam

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/ebs-dev/ebs/internal/durable"
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
	if err := durable.WriteFile(path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("access keys: %w", err)
	}
	return nil
}

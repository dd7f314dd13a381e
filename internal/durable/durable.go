// Package durable makes small files and directory entries durable: the one
// implementation of "write a temporary file, fsync it, rename it over the
// old one, fsync the directory" and of a directory fsync, for every package
// that keeps a file of its own in the data dir (the KMS root key, the access
// keys, the data dir's FORMAT) or creates files whose names must survive a
// power cut (extent files, the audit trail).
package durable

import (
	"fmt"
	"os"
	"path/filepath"
)

// SyncDir fsyncs a directory, making the entries created, renamed or removed
// in it durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}

// WriteFile replaces path with data, atomically and durably: after a crash
// path holds either its old content or data, never a mix, and once
// WriteFile returns nil it holds data. The temporary file is "." + base +
// ".tmp" next to path (a leftover from a crash is overwritten by the next
// write), so writes to one path must not run at once.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp := filepath.Join(dir, "."+base+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	err = f.Chmod(perm) // whatever mode a leftover had
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	return SyncDir(dir)
}

// MkdirAll is os.MkdirAll whose new directories are durable: each one it
// creates is fsynced with its parent, so that a power cut after it returns
// does not take the path away.
func MkdirAll(path string, perm os.FileMode) error {
	path = filepath.Clean(path)
	if fi, err := os.Stat(path); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("mkdir %s: not a directory", path)
		}
		return nil
	}
	if parent := filepath.Dir(path); parent != path {
		if err := MkdirAll(parent, perm); err != nil {
			return err
		}
	}
	if err := os.Mkdir(path, perm); err != nil && !os.IsExist(err) {
		return fmt.Errorf("mkdir: %w", err)
	}
	if err := SyncDir(path); err != nil {
		return err
	}
	return SyncDir(filepath.Dir(path))
}

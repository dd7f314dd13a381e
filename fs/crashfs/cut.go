package crashfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// CutReport says what a cut took away.
type CutReport struct {
	Files    int      // files whose size or content went back
	Pages    int      // pages written back
	Removed  []string // entries removed (paths relative to the mount)
	Restored []string // entries put back
}

func (r CutReport) String() string {
	return fmt.Sprintf("%d files rolled back (%d pages), %d entries removed %v, %d put back %v",
		r.Files, r.Pages, len(r.Removed), r.Removed, len(r.Restored), r.Restored)
}

// Cut rolls every file and directory back to its last durable state, as a
// power cut would. The file system must be unmounted (ErrMounted).
func (f *FS) Cut() (CutReport, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var r CutReport
	if f.server != nil {
		return r, fmt.Errorf("%w at %s: unmount first", ErrMounted, f.dir)
	}
	var errs []error
	for key, s := range f.files {
		s.mu.Lock()
		changed := s.changed
		n, err := s.restore()
		s.mu.Unlock()
		if changed {
			r.Files++
		}
		r.Pages += n
		errs = append(errs, err, s.close())
		delete(f.files, key)
	}
	if err := f.restoreDirs(&r); err != nil {
		errs = append(errs, err)
	}
	clear(f.dirs)
	errs = append(errs, emptyGrave(f.grave))
	slices.Sort(r.Removed)
	slices.Sort(r.Restored)
	return r, errors.Join(errs...)
}

// tree indexes the backing directory, graveyard included: every path of
// every inode, and which inodes are directories.
type tree struct {
	paths map[fileKey][]string
	dirs  map[fileKey]bool
}

func (f *FS) index() (*tree, error) {
	t := &tree{paths: map[fileKey][]string{}, dirs: map[fileKey]bool{}}
	err := filepath.WalkDir(f.backing, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		x, err := statx(unix.AT_FDCWD, p)
		if err != nil {
			return err
		}
		k := keyOf(x)
		t.paths[k] = append(t.paths[k], p)
		t.dirs[k] = d.IsDir()
		return nil
	})
	return t, err
}

// changedDir is a directory to roll back, where it is now.
type changedDir struct {
	key  fileKey
	st   *dirState
	path string
}

// restoreDirs removes from each changed directory what is not durable in
// it, deepest first (so a directory that goes to the graveyard has been
// rolled back already), then puts back what is missing, shallowest first.
func (f *FS) restoreDirs(r *CutReport) error {
	if len(f.dirs) == 0 {
		return nil
	}
	t, err := f.index()
	if err != nil {
		return fmt.Errorf("crashfs: index: %w", err)
	}
	var list []changedDir
	for key, st := range f.dirs {
		if len(t.paths[key]) == 0 {
			return fmt.Errorf("crashfs: directory %v is gone from the backing dir", key)
		}
		list = append(list, changedDir{key: key, st: st, path: t.paths[key][0]})
	}
	depth := func(d changedDir) int { return strings.Count(d.path, "/") }
	slices.SortFunc(list, func(a, b changedDir) int { return depth(b) - depth(a) })
	for _, d := range list {
		if err := f.removeExtra(d, r); err != nil {
			return err
		}
	}
	slices.Reverse(list)
	for _, d := range list {
		if err := f.putBack(d.key, d.st, r); err != nil {
			return err
		}
	}
	return nil
}

// removeExtra buries every entry of d that its durable list does not have.
func (f *FS) removeExtra(d changedDir, r *CutReport) error {
	cur, err := f.readEntries(d.path)
	if err != nil {
		return fmt.Errorf("crashfs: roll back %s: %w", d.path, err)
	}
	for name, key := range cur {
		if d.st.entries[name] == key {
			continue
		}
		p := filepath.Join(d.path, name)
		x, err := statx(unix.AT_FDCWD, p)
		if err != nil {
			return fmt.Errorf("crashfs: roll back %s: %w", p, err)
		}
		if errno := f.bury(p, x); errno != 0 {
			return fmt.Errorf("crashfs: remove %s: %w", p, errno)
		}
		r.Removed = append(r.Removed, f.rel(p))
	}
	return nil
}

// putBack links (files) or moves (directories) every missing durable entry
// of a directory back into it, from wherever its inode is now.
func (f *FS) putBack(key fileKey, st *dirState, r *CutReport) error {
	t, err := f.index() // directories moved by an earlier putBack moved their trees
	if err != nil {
		return fmt.Errorf("crashfs: index: %w", err)
	}
	dir := t.paths[key][0]
	cur, err := f.readEntries(dir)
	if err != nil {
		return fmt.Errorf("crashfs: roll back %s: %w", dir, err)
	}
	for name, k := range st.entries {
		if cur[name] == k {
			continue
		}
		dst := filepath.Join(dir, name)
		if len(t.paths[k]) == 0 {
			return fmt.Errorf("crashfs: the inode of %s is gone", dst)
		}
		if t.dirs[k] {
			if err = unix.Rename(t.paths[k][0], dst); err == nil {
				t, err = f.index() // its tree moved with it
			}
		} else {
			err = unix.Linkat(unix.AT_FDCWD, t.paths[k][0], unix.AT_FDCWD, dst, 0)
		}
		if err != nil {
			return fmt.Errorf("crashfs: put back %s: %w", dst, err)
		}
		r.Restored = append(r.Restored, f.rel(dst))
	}
	return nil
}

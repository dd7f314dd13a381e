package crashfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// dirState is a directory's entries at its last sync.
type dirState struct {
	entries map[string]fileKey
}

// dirChanging records the durable entries of dir before its first change
// since its last sync. f.mu is held.
func (f *FS) dirChanging(dir string) error {
	x, err := statx(unix.AT_FDCWD, dir)
	if err != nil {
		return err
	}
	key := keyOf(x)
	if f.dirs[key] != nil {
		return nil
	}
	entries, err := f.readEntries(dir)
	if err != nil {
		return err
	}
	f.dirs[key] = &dirState{entries: entries}
	return nil
}

// readEntries lists a backing directory: name -> inode (the graveyard left
// out).
func (f *FS) readEntries(dir string) (map[string]fileKey, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	m := make(map[string]fileKey, len(names))
	for _, name := range names {
		if name == graveName && dir == f.backing {
			continue
		}
		x, err := statx(int(d.Fd()), name)
		if err != nil {
			return nil, fmt.Errorf("entry %s of %s: %w", name, dir, err)
		}
		m[name] = keyOf(x)
	}
	return m, nil
}

// syncDir makes a directory's entries durable, or fails as a fault says.
func (f *FS) syncDir(n *node) syscall.Errno {
	if errno := f.faults.check(OpFsync, n.relPath); errno != 0 {
		return errno
	}
	if f.journal {
		return f.commitJournal()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	x, err := statx(unix.AT_FDCWD, n.path())
	if err != nil {
		return gofs.ToErrno(err)
	}
	delete(f.dirs, keyOf(x))
	if err := f.collectGrave(); err != nil {
		f.log.Error("crashfs: graveyard", "err", err)
		return syscall.EIO
	}
	return 0
}

// bury removes the entry at p (inode x) by moving it into the graveyard,
// or by unlinking it when the graveyard holds its inode already. f.mu is
// held.
func (f *FS) bury(p string, x *unix.Statx_t) syscall.Errno {
	g := filepath.Join(f.grave, keyOf(x).String())
	if _, err := os.Lstat(g); err == nil {
		if x.Mode&unix.S_IFMT == unix.S_IFDIR {
			return syscall.EIO // a directory has one name: it cannot be buried twice
		}
		return gofs.ToErrno(unix.Unlink(p))
	}
	return gofs.ToErrno(unix.Rename(p, g))
}

// keep links the file at p (inode x), about to be replaced by a rename,
// into the graveyard. f.mu is held.
func (f *FS) keep(p string, x *unix.Statx_t) syscall.Errno {
	g := filepath.Join(f.grave, keyOf(x).String())
	if _, err := os.Lstat(g); err == nil {
		return 0
	}
	return gofs.ToErrno(unix.Linkat(unix.AT_FDCWD, p, unix.AT_FDCWD, g, 0))
}

// emptyDir is 0 for an empty directory, else ENOTEMPTY (or the error).
func emptyDir(p string) syscall.Errno {
	d, err := os.Open(p)
	if err != nil {
		return gofs.ToErrno(err)
	}
	defer d.Close()
	if _, err := d.Readdirnames(1); err == nil {
		return syscall.ENOTEMPTY
	} else if !errors.Is(err, io.EOF) {
		return gofs.ToErrno(err)
	}
	return 0
}

// collectGrave deletes what the graveyard holds that no directory's
// durable entries name (directories: nothing inside either). f.mu is held.
func (f *FS) collectGrave() error {
	if len(f.dirs) == 0 {
		return emptyGrave(f.grave)
	}
	needed := map[fileKey]bool{}
	for _, d := range f.dirs {
		for _, k := range d.entries {
			needed[k] = true
		}
	}
	entries, err := os.ReadDir(f.grave)
	if err != nil {
		return err
	}
	for _, e := range entries {
		p := filepath.Join(f.grave, e.Name())
		if used, err := f.uses(p, needed); err != nil || used {
			continue
		}
		if err := os.RemoveAll(p); err != nil {
			return err
		}
	}
	return nil
}

// uses says whether the tree at p holds an inode in needed.
func (f *FS) uses(p string, needed map[fileKey]bool) (bool, error) {
	used := false
	err := filepath.WalkDir(p, func(q string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		x, err := statx(unix.AT_FDCWD, q)
		if err != nil {
			return err
		}
		if needed[keyOf(x)] {
			used = true
			return filepath.SkipAll
		}
		return nil
	})
	return used, err
}

// emptyGrave removes everything in the graveyard (and makes it).
func emptyGrave(grave string) error {
	if err := os.RemoveAll(grave); err != nil {
		return fmt.Errorf("crashfs: empty the graveyard: %w", err)
	}
	if err := os.Mkdir(grave, 0o700); err != nil {
		return fmt.Errorf("crashfs: make the graveyard: %w", err)
	}
	return nil
}

// dirHandle is an open directory: the loopback's stream without the
// graveyard, and FSYNCDIR through syncDir.
type dirHandle struct {
	inner gofs.FileHandle
	node  *node
}

var (
	_ = (gofs.FileReaddirenter)((*dirHandle)(nil))
	_ = (gofs.FileSeekdirer)((*dirHandle)(nil))
	_ = (gofs.FileReleasedirer)((*dirHandle)(nil))
	_ = (gofs.FileFsyncdirer)((*dirHandle)(nil))
)

func (d *dirHandle) Readdirent(ctx context.Context) (*fuse.DirEntry, syscall.Errno) {
	r, ok := d.inner.(gofs.FileReaddirenter)
	if !ok {
		return nil, syscall.ENOTSUP
	}
	for {
		e, errno := r.Readdirent(ctx)
		if errno != 0 || e == nil || !d.node.hidden(e.Name) {
			return e, errno
		}
	}
}

func (d *dirHandle) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	if s, ok := d.inner.(gofs.FileSeekdirer); ok {
		return s.Seekdir(ctx, off)
	}
	return syscall.ENOTSUP
}

func (d *dirHandle) Releasedir(ctx context.Context, flags uint32) {
	if r, ok := d.inner.(gofs.FileReleasedirer); ok {
		r.Releasedir(ctx, flags)
	}
}

func (d *dirHandle) Fsyncdir(ctx context.Context, flags uint32) syscall.Errno {
	return d.node.fsys.syncDir(d.node)
}

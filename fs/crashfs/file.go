package crashfs

import (
	"context"
	"math"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"golang.org/x/sys/unix"
)

// file is an open file: the loopback's handle, with every change recorded
// in the inode's undo log before it is made.
type file struct {
	*gofs.LoopbackFile
	node  *node
	fd    int // the loopback's descriptor, owned by it
	state *fileState
}

var (
	_ = (gofs.FileWriter)((*file)(nil))
	_ = (gofs.FileWritever)((*file)(nil))
	_ = (gofs.FileAllocater)((*file)(nil))
	_ = (gofs.FileFsyncer)((*file)(nil))
	_ = (gofs.FilePassthroughFder)((*file)(nil))
)

// wrap wraps a handle the loopback opened. f.mu is held.
func (f *FS) wrap(n *node, fh gofs.FileHandle) (*file, syscall.Errno) {
	lf, ok := fh.(*gofs.LoopbackFile)
	if !ok {
		return nil, syscall.EIO
	}
	fd, _ := lf.PassthroughFd()
	x, err := statx(fd, "")
	if err != nil {
		lf.Release(context.Background())
		return nil, gofs.ToErrno(err)
	}
	s, err := f.stateLocked(keyOf(x), fd)
	if err != nil {
		f.log.Error("crashfs: open", "file", n.relPath(), "err", err)
		lf.Release(context.Background())
		return nil, syscall.EIO
	}
	return &file{LoopbackFile: lf, node: n, fd: fd, state: s}, 0
}

// stateLocked returns the inode's state, opening one if it has none: no
// change since New, the last Cut or its last sync, so it is durable as it
// is. f.mu is held.
func (f *FS) stateLocked(key fileKey, fd int) (*fileState, error) {
	if s := f.files[key]; s != nil {
		return s, nil
	}
	s, err := openState(key, fd)
	if err != nil {
		return nil, err
	}
	f.files[key] = s
	return s, nil
}

// PassthroughFd refuses FUSE passthrough, which would take reads and
// writes past the undo log.
func (h *file) PassthroughFd() (int, bool) { return -1, false }

func (h *file) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	if errno := h.node.fsys.faults.check(OpWrite, h.node.relPath); errno != 0 {
		return 0, errno
	}
	s := h.state
	s.mu.RLock()
	defer s.mu.RUnlock()
	fl, errno := h.begin(off, int64(len(data)))
	if errno != 0 {
		return 0, errno
	}
	defer s.end(fl)
	return h.LoopbackFile.Write(ctx, data, off)
}

func (h *file) Writev(ctx context.Context, data [][]byte, off int64) (uint32, syscall.Errno) {
	if errno := h.node.fsys.faults.check(OpWrite, h.node.relPath); errno != 0 {
		return 0, errno
	}
	n := 0
	for _, b := range data {
		n += len(b)
	}
	s := h.state
	s.mu.RLock()
	defer s.mu.RUnlock()
	fl, errno := h.begin(off, int64(n))
	if errno != 0 {
		return 0, errno
	}
	defer s.end(fl)
	return h.LoopbackFile.Writev(ctx, data, off)
}

// begin records what a write of [off, off+n) changes and notes it in
// flight (flight.go).
func (h *file) begin(off, n int64) (*flight, syscall.Errno) {
	fl, err := h.state.begin(off, n)
	if err != nil {
		h.node.fsys.log.Error("crashfs: undo log", "file", h.node.relPath(), "err", err)
		return nil, syscall.EIO
	}
	return fl, 0
}

func (h *file) capture(off, n int64) syscall.Errno {
	if err := h.state.capture(off, n); err != nil {
		h.node.fsys.log.Error("crashfs: undo log", "file", h.node.relPath(), "err", err)
		return syscall.EIO
	}
	return 0
}

// Allocate records what fallocate changes: the content of the range for
// punch hole and zero range, everything from off for collapse and insert
// range, only the size for an allocation.
func (h *file) Allocate(ctx context.Context, off, size uint64, mode uint32) syscall.Errno {
	s := h.state
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case mode&(unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_ZERO_RANGE) != 0:
		if err := s.captureData(int64(off), int64(size)); err != nil {
			h.node.fsys.log.Error("crashfs: undo log", "file", h.node.relPath(), "err", err)
			return syscall.EIO
		}
	case mode&(unix.FALLOC_FL_COLLAPSE_RANGE|unix.FALLOC_FL_INSERT_RANGE) != 0:
		if errno := h.capture(int64(off), math.MaxInt64-int64(off)); errno != 0 {
			return errno
		}
	default:
		s.resized()
	}
	errno := h.LoopbackFile.Allocate(ctx, off, size, mode)
	if errno == 0 && mode&unix.FALLOC_FL_KEEP_SIZE == 0 {
		if err := s.sizeSet(); err != nil {
			h.node.fsys.log.Error("crashfs: fallocate", "file", h.node.relPath(), "err", err)
			return syscall.EIO
		}
	}
	return errno
}

// Fsync makes the file's content and size durable, or fails as a fault
// says and leaves them lost.
func (h *file) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	return h.node.fsys.syncFile(h.state, h.node.relPath)
}

func (f *FS) syncFile(s *fileState, rel func() string) syscall.Errno {
	s.mu.RLock() // not waiting for the writes in flight (flight.go)
	if errno := f.faults.check(OpFsync, rel); errno != 0 {
		s.failed()
		s.mu.RUnlock()
		return errno
	}
	err := s.synced()
	s.mu.RUnlock()
	if err != nil {
		f.log.Error("crashfs: fsync", "file", rel(), "err", err)
		return syscall.EIO
	}
	return f.commitJournal()
}

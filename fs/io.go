package fs

import (
	"context"
	"errors"
	"io"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

var (
	_ = (gofs.NodeReader)((*volumeNode)(nil))
	_ = (gofs.NodeWriter)((*volumeNode)(nil))
	_ = (gofs.NodeAllocater)((*volumeNode)(nil))
)

// Read reads straight into dest, a buffer go-fuse takes from its own pool
// (sync.Pools by page count, up to MaxWrite), so reads need no buffer of
// their own and no copy.
func (n *volumeNode) Read(ctx context.Context, f gofs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	k, err := n.readAt(dest, off)
	if err != nil {
		return nil, errnoOf(n.log, n.name, "read", off, err)
	}
	return fuse.ReadResultData(dest[:k]), 0
}

// readAt reads what of p lies inside the file: a read past the end is
// short, and one at or past the end reads nothing (EOF).
func (n *volumeNode) readAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errOutOfRange
	}
	if off >= n.size {
		return 0, nil
	}
	p = p[:min(int64(len(p)), n.size-off)]
	end, err := n.begin()
	if err != nil {
		return 0, err
	}
	defer end()
	k, err := n.dev.ReadAt(p, off)
	if errors.Is(err, io.EOF) && k == len(p) {
		err = nil
	}
	return k, err
}

// Write writes data, which go-fuse owns again once Write returns.
func (n *volumeNode) Write(ctx context.Context, f gofs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	k, err := n.writeAt(data, off)
	if err != nil {
		return 0, errnoOf(n.log, n.name, "write", off, err)
	}
	return uint32(k), 0
}

// writeAt writes what of p lies inside the file, as a block device does:
// a write that crosses the end is cut short there, and one that starts at
// or past the end fails with ENOSPC. The file never grows.
func (n *volumeNode) writeAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errOutOfRange
	}
	if len(p) == 0 {
		return 0, nil
	}
	if off >= n.size {
		return 0, errPastEnd
	}
	p = p[:min(int64(len(p)), n.size-off)]
	end, err := n.begin()
	if err != nil {
		return 0, err
	}
	defer end()
	return n.dev.WriteAt(p, off)
}

// Allocate is fallocate(2); see allocate.
func (n *volumeNode) Allocate(ctx context.Context, f gofs.FileHandle, off, size uint64, mode uint32) syscall.Errno {
	return errnoOf(n.log, n.name, "fallocate", int64(off), n.allocate(off, size, mode))
}

// fallocate modes, as FUSE passes them.
const (
	keepSize  = unix.FALLOC_FL_KEEP_SIZE
	punchHole = unix.FALLOC_FL_PUNCH_HOLE
	zeroRange = unix.FALLOC_FL_ZERO_RANGE
)

// allocate handles the fallocate modes a block device has:
// PUNCH_HOLE|KEEP_SIZE discards, ZERO_RANGE (with or without KEEP_SIZE)
// zeroes, and a plain allocation inside the file is a no-op, since every
// byte of a volume can always be written. The range goes down exactly as
// asked (loop devices with 512-byte sectors send pieces of 4 KiB blocks),
// clipped at the end of the file when KEEP_SIZE is set.
func (n *volumeNode) allocate(off, length uint64, mode uint32) error {
	var op func(off, length int64) error
	switch mode &^ keepSize {
	case 0:
	case punchHole:
		op = n.dev.Discard
	case zeroRange:
		op = n.dev.ZeroRange
	default:
		return errMode
	}
	start, count, err := n.clip(off, length, mode&keepSize != 0)
	if err != nil || op == nil || count == 0 {
		return err
	}
	return n.deviceRange(op, start, count)
}

// clip checks a fallocate range against the file: it must start inside,
// and it may run past the end only with KEEP_SIZE (then it is cut there),
// because the file cannot grow. This is what a block device answers.
func (n *volumeNode) clip(off, length uint64, keep bool) (int64, int64, error) {
	size := uint64(n.size)
	if off >= size {
		return 0, 0, errOutOfRange
	}
	if length > size-off {
		if !keep {
			return 0, 0, errOutOfRange
		}
		length = size - off
	}
	return int64(off), int64(length), nil
}

// deviceRange calls a Device range operation, unless the node is detached.
func (n *volumeNode) deviceRange(op func(off, length int64) error, off, length int64) error {
	end, err := n.begin()
	if err != nil {
		return err
	}
	defer end()
	return op(off, length)
}

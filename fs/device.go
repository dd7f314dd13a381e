package fs

import (
	"errors"
	"fmt"
	"syscall"
)

// Device is an attached volume as the mount needs it; the volume layer
// implements it. The mount checks every range against Size before it calls
// ReadAt, WriteAt, Discard or ZeroRange, so off+len is always within Size.
// Calls may come from many goroutines at once, also for overlapping ranges.
// A Device must not keep p after ReadAt or WriteAt returns.
type Device interface {
	// ReadAt reads len(p) bytes at off: any offset and length, whole
	// blocks or parts of them.
	ReadAt(p []byte, off int64) (int, error)
	// WriteAt writes len(p) bytes at off, with the same freedom.
	WriteAt(p []byte, off int64) (int, error)
	// Size is the volume's size in bytes. It never changes.
	Size() int64
	// Sync makes everything written so far durable (fsync).
	Sync() error
	// Discard is PUNCH_HOLE: afterwards the range reads as zeros and its
	// storage may be freed. The range need not be block aligned: bytes
	// outside it, also in the same block, must keep their contents.
	Discard(off, length int64) error
	// ZeroRange is ZERO_RANGE: afterwards the range reads as zeros. The
	// range need not be block aligned either.
	ZeroRange(off, length int64) error
}

// Errors returned by the MountPoint methods.
var (
	// ErrBusy means the volume file is open (by a process or a loop
	// device), so it cannot be removed without losing data.
	ErrBusy = errors.New("volume file is open")
	// ErrExists means a file of that name is already in the mount.
	ErrExists = errors.New("volume file already exists")
	// ErrNotFound means there is no file of that name in the mount.
	ErrNotFound = errors.New("no such volume file")
	// ErrInvalidName means the name cannot be a file name.
	ErrInvalidName = errors.New("invalid volume file name")
	// ErrUnmounted means the mount is gone.
	ErrUnmounted = errors.New("volume mount is unmounted")
)

// Errors the mount gives itself for requests it refuses. errnoOf turns them
// into the errno the kernel sees.
var (
	// errPastEnd: a write at or past the end, as on a disk (ENOSPC).
	errPastEnd = fmt.Errorf("write past the end of the volume: %w", syscall.ENOSPC)
	// errOutOfRange: a fallocate outside the file or that would grow it,
	// or a negative offset (EINVAL, as a block device answers).
	errOutOfRange = fmt.Errorf("range outside the volume: %w", syscall.EINVAL)
	// errFixedSize: a truncate to another size (EPERM).
	errFixedSize = fmt.Errorf("the volume's size is fixed: %w", syscall.EPERM)
	// errMode: a fallocate mode other than allocate, punch hole and
	// zero range (EOPNOTSUPP).
	errMode = fmt.Errorf("fallocate mode not supported: %w", syscall.EOPNOTSUPP)
	// errDetached: the file was removed or the mount went away while the
	// kernel still had a reference to it (ENXIO, as for a removed disk).
	errDetached = fmt.Errorf("volume detached: %w", syscall.ENXIO)
)

package fs

import (
	"context"
	"errors"
	"log/slog"
	"syscall"
)

// errnoTable lists, in order, the errors that keep a meaning of their own
// at the FUSE boundary. The mount's own refusals come first, so a Device
// that returns, say, EINVAL still gets EIO: the mount checked the range
// before calling it, so that would be a bug below.
var errnoTable = []struct {
	err   error
	errno syscall.Errno
	level slog.Level
}{
	{errPastEnd, syscall.ENOSPC, slog.LevelDebug},
	{errOutOfRange, syscall.EINVAL, slog.LevelDebug},
	{errFixedSize, syscall.EPERM, slog.LevelDebug},
	{errMode, syscall.EOPNOTSUPP, slog.LevelDebug},
	{errDetached, syscall.ENXIO, slog.LevelDebug},
	{syscall.ENOSPC, syscall.ENOSPC, slog.LevelWarn},
	{syscall.EDQUOT, syscall.EDQUOT, slog.LevelWarn},
	{syscall.EROFS, syscall.EROFS, slog.LevelWarn},
	{errors.ErrUnsupported, syscall.EOPNOTSUPP, slog.LevelDebug},
	{syscall.EOPNOTSUPP, syscall.EOPNOTSUPP, slog.LevelDebug},
	// A Device that says EIO has logged why (an impaired volume, once).
	{syscall.EIO, syscall.EIO, slog.LevelDebug},
}

// errnoOf is the one place where an error becomes an errno for the
// kernel. Anything not in errnoTable is EIO, logged as an error with the
// file name, the operation and the offset.
func errnoOf(log *slog.Logger, name, op string, off int64, err error) syscall.Errno {
	if err == nil {
		return 0
	}
	errno, level := syscall.EIO, slog.LevelError
	for _, e := range errnoTable {
		if errors.Is(err, e.err) {
			errno, level = e.errno, e.level
			break
		}
	}
	log.Log(context.Background(), level, "volume file I/O failed", "file", name, "op", op,
		"offset", off, "errno", errno.Error(), "err", err)
	return errno
}

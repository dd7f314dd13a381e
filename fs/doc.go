// Package fs serves the attached volumes as regular files on a FUSE mount.
//
// Each attached volume is one file, <dir>/<volume id>, whose size is the
// volume's size: reading and writing the file reads and writes the volume,
// fsync makes what was written durable, and fallocate punches holes
// (discard) or zeroes ranges. Nothing else can be created in the directory.
// The usual way to use a volume is a loop device on its file:
//
//	losetup --find --show --sector-size 4096 --direct-io=on /run/ebs/volumes/vol-0123456789abcdef0
//
// The file behaves like a block device where the two differ:
//
//   - Its size is fixed. Reads past the end are short (EOF); a write that
//     starts at or past the end fails with ENOSPC, as on a disk, and a write
//     that crosses the end is cut short there. truncate to another size fails
//     with EPERM (truncate to the current size succeeds and does nothing).
//   - fallocate PUNCH_HOLE|KEEP_SIZE reaches Device.Discard and ZERO_RANGE
//     (with or without KEEP_SIZE) reaches Device.ZeroRange, with the exact
//     byte range asked for, clipped at the end of the file when KEEP_SIZE is
//     set. A range that starts at or past the end, or that would grow the
//     file, fails with EINVAL, as on a block device. A plain allocation inside
//     the file succeeds and does nothing; other modes fail with EOPNOTSUPP.
//   - The mode starts at 0600 and the owner at root; chmod, chown and utimes
//     are kept in memory while the volume is attached. The mount uses
//     allow_other with default_permissions, so the kernel enforces the mode:
//     other users can use a volume only once they are given access to it.
//
// Open handles are counted per file, loop devices included: Remove refuses
// with ErrBusy while one is open (after waiting up to a second, since the
// kernel releases a handle only after close returns), and otherwise waits
// for the Device calls in flight; after it the Device is not called again.
// Unmount tries a clean unmount and, while files are still open, falls
// back to a lazy one and says so in the log; whoever still holds a file
// then gets ENXIO. Mount detaches a dead mount a crashed daemon left.
//
// Errors from a Device become errno values in one place, errnoOf: ENOSPC,
// EDQUOT and EROFS pass through, an unsupported operation becomes
// EOPNOTSUPP, and anything else becomes EIO and is logged with the file
// name, the operation and the offset.
//
// The FUSE settings are the ones measured fastest here (see DESIGN.md and
// settings.go): FOPEN_DIRECT_IO and FOPEN_PARALLEL_DIRECT_WRITES on every
// open, CAP_ASYNC_DIO asked for at init (go-fuse's ExtraCapabilities),
// MaxBackground 64, MaxWrite 1 MiB with splice off, and a direct mount(2)
// with fusermount as the fallback.
package fs

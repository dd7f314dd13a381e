// Package crashfs is a test harness: a FUSE pass-through file system over a
// backing directory (go-fuse's loopback with the data and namespace
// operations wrapped) that, on command, loses everything a power cut would
// lose: every change not made durable by an fsync, an fdatasync, an msync or
// a directory fsync. A program runs on the mount; the test kills it,
// unmounts, calls Cut, and mounts the same backing directory again to see
// what a machine would find after the power came back.
//
// # The model
//
// Files. For each file changed since its last fsync or fdatasync (FSYNC
// from the kernel, which msync(MS_SYNC) sends too) crashfs keeps its size at
// that sync and an undo log: the content, at that sync, of every 4 KiB page
// changed since (a hole is kept as a hole). Every change records the
// pre-images of the pages it touches before it is made: WRITE (write(2), and
// the kernel's writeback of pages dirtied through a MAP_SHARED mapping),
// FALLOCATE (punch hole, zero range, collapse and insert range; allocating
// modes change no content, only the size), truncation (SETATTR size, O_TRUNC)
// and COPY_FILE_RANGE. A successful fsync forgets the log and records the
// size, for what was written before it arrived: a write still in flight
// then (as a large write racing an fsync on a real disk) is not covered,
// nor the growth it makes (flight.go). Cut truncates each file to its durable size and writes the
// pre-images back. The unit is the file, as on a real disk only per file
// syncs count: an fsync of one file makes nothing of another durable.
//
// Directories. For each directory changed since its last fsync (FSYNCDIR)
// crashfs keeps its entries (name -> inode) as they were at that sync, taken
// at the first change after it. An entry removed (unlink, rmdir, a rename
// away or over it) is not deleted but moved into a graveyard in the backing
// directory (.crashfs-graveyard, hidden from the mount), so that Cut can
// link it back; the graveyard is emptied of what no directory's durable
// entries still name whenever a directory is synced. Cut removes from each
// such directory every entry that is not in its durable list (the deepest
// directories first) and puts back every durable entry that is missing
// (hard links for files, a rename for directories), then empties the
// graveyard. So a file that was created and fsynced in a directory never
// fsynced is gone after a cut, and a file unlinked or renamed without a
// directory fsync is back. Nothing implies anything else: fsync of a file
// does not make its name durable (as it happens to on ext4), and mkdir -p
// makes nothing durable until each parent is synced. With
// Options.Journaled, any successful sync (of a file or a directory) makes
// the metadata changed before it durable instead, as the one metadata
// journal of ext4 or XFS does: every namespace change, and every size set
// by truncate or fallocate (the pages a durable size takes in read as
// zeros unless their file was synced). It is for tests of data durability
// on a program whose directory syncs are known to be missing.
//
// Failures. Faults make FSYNC (files and directories) or WRITE of files
// whose path matches a pattern fail with an errno (EIO by default) a given
// number of times or until cleared. A failed fsync forgets nothing and marks
// the pages it covered as lost: a later fsync that succeeds does not make
// them durable, as on Linux, where writeback marks the pages clean after the
// error and the retry has nothing left to write, unless the page is written
// again. A failed WRITE changes nothing; when the kernel was writing back a
// mapping, it records the error for the program's next fsync.
//
// # Procedure
//
//  1. New(backing), then Mount(dir); run the program with its files in dir.
//     Everything in the backing directory at New (and after each Cut) is
//     durable.
//  2. Kill the program. Its open files close, and the kernel writes every
//     page it dirtied through a mapping back as WRITEs: not durable.
//  3. Unmount. Unmount fails while anything holds a file open on the mount;
//     then the program is not dead yet, or a mount of its (a loop device, a
//     FUSE mount whose files live elsewhere) still refers to it.
//  4. Cut. It refuses to run while mounted: the kernel's page cache of the
//     mount must be gone (it is after an unmount), or the program would see
//     pages that the cut took away.
//  5. Mount again and restart the program.
//
// The program must run in another process than the one serving the mount
// if it maps files: a page fault on a mapping of a FUSE file waits for the
// server, and in the same Go process a stop-the-world GC waits for the
// faulting thread, which never reaches a safe point (both hang for good).
//
// SyncAll marks everything durable at once, as sync(2) or a journal commit
// would: a test calls it after a setup that the program does not make
// durable itself (see DESIGN.md, Power-cut harness).
//
// Simplified: modes, owners, times and extended attributes are not rolled
// back; mknod'd nodes and symlinks are entries like any other; a directory
// moved from A to B with only B synced goes back to A at a cut (a directory
// cannot be in both); O_TMPFILE files are not tracked; a file removed for
// good keeps its undo log, and its space, until the next cut. The backing
// directory must be one file system. crashfs does not sync the backing
// directory: its durability is simulated, and the backing directory is
// scratch space of the test.
//
// # Locks
//
// FS.mu (namespace changes, the file and directory tables, the mount)
// before fileState.mu (a file's content: writes and fsyncs share it;
// truncation, fallocate, a journal commit and the cut take it alone) before
// fileState.logMu (the undo log and the writes in flight); faults.mu is a
// leaf.
package crashfs

package store

import (
	"fmt"
	"runtime/debug"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Small reads and every in-place overwrite go through a shared memory map of
// the extent file instead of pread and pwrite. On this kind of host a
// buffered 4 KiB pwrite issued by a FUSE server thread costs several times
// what the same memcpy into the page cache costs through a mapping (measured
// with bench/filefuse: pwrite and mmap variants, see DESIGN.md), and at
// 4 KiB that decides the IOPS. Large overwrites gain too, since pwrite walks
// the 4 KiB folios one by one (below): 1 MiB sequential overwrites ran at
// 1.5-1.8 GB/s with pwrite, 2.4-2.6 GB/s through the map. Large reads keep
// pread: a page not in the cache would fault in alone (MADV_RANDOM), one
// disk read per 4 KiB.
//
// Overwrites go back to pwrite for a while after each fdatasync: writeback
// write-protects every page it cleans in the mapping (a TLB shootdown), so
// the next write to the page faults; when a volume is fsynced often, as a
// database does, that costs more than the syscall it saves (measured:
// 4 KiB writes each followed by fsync ran at 1.3-1.5k/s through the map,
// 1.8-2.6k/s with pwrite).
//
// The page cache of the extent files is kept in 4 KiB folios. A 1 MiB pwrite
// into uncached space, or readahead, makes large folios (up to 2 MiB), and
// then every 4 KiB write into one costs a walk over all its buffer heads:
// pwrite in ext4_block_write_begin, and a write fault after writeback in
// block_page_mkwrite (27% of all CPU in a perf profile of the daemon under
// 4 KiB random writes). So extent fds are FADV_RANDOM (pread makes 4 KiB
// folios) and a run written to fresh slots is first read in through the
// map (MADV_POPULATE_READ: the slots are holes or unwritten extents, so it
// costs no I/O and makes 4 KiB folios, which the pwrite then fills).
// Measured side by side (two daemons, fio job files, 8 s, 3 rounds):
// randwrite 4k QD32 24-62k -> 50-60k IOPS, QD1 6-9k -> 8-12k; sequential
// 1 MiB writes with pwrite 1.8-2.1 -> 1.3-1.6 GB/s (more folios to walk
// per MiB, won back by overwriting through the map); reads and fsync'd
// writes within noise.
//
// Only blocks that already hold data are written through the map: their disk
// space is allocated, so the page fault never has to allocate (a full disk
// would be a SIGBUS, not an ENOSPC). Fresh slots, which may sit in a punched
// hole, are written with pwrite, which reports ENOSPC. A fault that happens
// anyway (an I/O error) is turned into EIO, not a crash.
const mappedMax = 64 << 10 // the largest read through the map

// syncQuiet is how long after an fdatasync overwrites keep using pwrite.
const syncQuiet = 100 * time.Millisecond

// extentBytes is the length of each extent's mapping: the whole extent,
// whatever the file's current size (only slots below it are ever touched).
const extentBytes = slotsPerExtent * BlockSize

// mapExtent maps an extent file for reading and writing.
func mapExtent(fd int) ([]byte, error) {
	m, err := unix.Mmap(fd, 0, extentBytes, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("map extent: %w", err)
	}
	// Random access: a fault reads only its page, not a read-around window.
	if err := unix.Madvise(m, unix.MADV_RANDOM); err != nil {
		unix.Munmap(m)
		return nil, fmt.Errorf("madvise extent: %w", err)
	}
	return m, nil
}

// copyMapped copies src to dst where one of them is an extent mapping, and
// turns a memory fault (an I/O error under the mapping) into EIO.
func copyMapped(dst, src []byte) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: fault on an extent mapping: %v", syscall.EIO, r)
		}
	}()
	copy(dst, src)
	return nil
}

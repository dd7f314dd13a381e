package store

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ebs-dev/ebs/internal/durable"
	"golang.org/x/sys/unix"
)

const (
	// BlockSize is the size of a block and of a slot.
	BlockSize = 4096
	// slotsPerExtent makes 1 GiB extent files.
	slotsPerExtent = 1 << 18
	// growStep is how much an extent file is preallocated at a time.
	growStep = 16 << 20
)

// extents are the files that hold block data. Slot s (s >= 1) is block
// (s-1) % slotsPerExtent of extent (s-1) / slotsPerExtent.
type extents struct {
	dir   string
	mu    sync.Mutex // guards files; each file's counters have their own lock
	files []*extentFile
	// lastSync is when sync last fdatasynced a file (unix nanoseconds).
	lastSync atomic.Int64

	// The system calls that can fail under the store; tests inject faults.
	fdatasync func(f *os.File) error
	pwrite    func(f *os.File, p []byte, off int64) (int, error)
	// beforeWrite, when set, runs in every write after it is registered as
	// in flight and before its data is copied (tests).
	beforeWrite func(slot uint64)
}

// extentFile is one extent file, its mapping, and its write generations:
// written counts the writes that completed (their data is in the page
// cache), synced is the value of written that the last successful
// fdatasync covered. A write is counted when it completes, never before, so
// a sync that starts after a write returned always covers it, whatever
// other syncs ran while it was in flight.
type extentFile struct {
	f     *os.File
	m     []byte // the mapping (mapped.go)
	alloc int64  // bytes preallocated

	mu       sync.Mutex
	written  uint64
	synced   uint64
	writers  map[uint64]struct{} // lineages with writes counted since the last sync began
	inflight map[uint64]int      // lineage -> writes in progress
}

func openExtents(dir string) (*extents, error) {
	if err := durable.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("extent dir: %w", err)
	}
	e := &extents{dir: dir, fdatasync: fdatasync, pwrite: (*os.File).WriteAt}
	names, err := filepath.Glob(filepath.Join(dir, "extent-*"))
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	for i, name := range names {
		if name != e.path(i) {
			return nil, fmt.Errorf("extent files: %s is out of sequence (want %s)", name, e.path(i))
		}
		if err := e.open(i); err != nil {
			return nil, err
		}
	}
	return e, nil
}

func fdatasync(f *os.File) error { return unix.Fdatasync(int(f.Fd())) }

func (e *extents) path(i int) string { return filepath.Join(e.dir, fmt.Sprintf("extent-%06d", i)) }

// open opens extent i, creating it if missing; a new file's directory entry
// is made durable before any slot in it can be mapped.
func (e *extents) open(i int) error {
	_, statErr := os.Stat(e.path(i))
	f, err := os.OpenFile(e.path(i), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open extent: %w", err)
	}
	if errors.Is(statErr, os.ErrNotExist) {
		if err := durable.SyncDir(e.dir); err != nil {
			f.Close()
			return err
		}
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	// pread makes 4 KiB folios, not readahead-sized ones (mapped.go).
	_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_RANDOM)
	m, err := mapExtent(int(f.Fd()))
	if err != nil {
		f.Close()
		return err
	}
	e.files = append(e.files, &extentFile{f: f, m: m, alloc: fi.Size(),
		writers: map[uint64]struct{}{}, inflight: map[uint64]int{}})
	return nil
}

func locate(slot uint64) (ext int, off int64) {
	i := slot - 1
	return int(i / slotsPerExtent), int64(i%slotsPerExtent) * BlockSize
}

// slotCount is how many slots the existing extent files can hold without
// creating a new file.
func (e *extents) slotCount() uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return uint64(len(e.files)) * slotsPerExtent
}

// ensure preallocates space for slots [first, first+n), creating extent
// files as needed. It fails with ENOSPC when the disk is full.
func (e *extents) ensure(first uint64, n int) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	last := first + uint64(n) - 1
	for s := first; s <= last; {
		ext, _ := locate(s)
		for ext >= len(e.files) {
			if err := e.open(len(e.files)); err != nil {
				return err
			}
		}
		x := e.files[ext]
		extLast := min(last, uint64(ext+1)*slotsPerExtent) // the run's last slot in this extent
		_, lastOff := locate(extLast)
		end := lastOff + BlockSize
		if end > x.alloc {
			want := min((end+growStep-1)/growStep*growStep, slotsPerExtent*BlockSize)
			if err := unix.Fallocate(int(x.f.Fd()), 0, x.alloc, want-x.alloc); err != nil {
				return fmt.Errorf("grow extent %d: %w", ext, err)
			}
			x.alloc = want
		}
		s = extLast + 1
	}
	return nil
}

func (e *extents) file(ext int) *extentFile {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.files[ext]
}

// writeRun writes len(p)/BlockSize consecutive slots starting at slot for
// lineage; the run must not cross an extent boundary. inPlace says that
// every slot of the run already holds written data (see mapped.go). The
// write counts for the next sync only once its data is in the page cache.
func (e *extents) writeRun(lineage, slot uint64, p []byte, inPlace bool) error {
	ext, off := locate(slot)
	x := e.file(ext)
	x.mu.Lock()
	x.inflight[lineage]++
	x.mu.Unlock()
	if e.beforeWrite != nil {
		e.beforeWrite(slot)
	}
	err := e.copyIn(x, off, p, inPlace)
	x.mu.Lock()
	if x.inflight[lineage]--; x.inflight[lineage] == 0 {
		delete(x.inflight, lineage)
	}
	// Counted even when it failed: a failed pwrite may have changed pages.
	x.written++
	x.writers[lineage] = struct{}{}
	x.mu.Unlock()
	if err != nil {
		return fmt.Errorf("write extent %d at %d: %w", ext, off, err)
	}
	return nil
}

func (e *extents) copyIn(x *extentFile, off int64, p []byte, inPlace bool) error {
	if inPlace && time.Now().UnixNano()-e.lastSync.Load() > int64(syncQuiet) {
		return copyMapped(x.m[off:off+int64(len(p))], p)
	}
	if !inPlace {
		// 4 KiB folios for the pwrite to fill (mapped.go); an old kernel
		// without MADV_POPULATE_READ just gets large ones.
		_ = unix.Madvise(x.m[off:off+int64(len(p))], unix.MADV_POPULATE_READ)
	}
	_, err := e.pwrite(x.f, p, off)
	return err
}

// readRun reads consecutive slots starting at slot into p.
func (e *extents) readRun(slot uint64, p []byte) error {
	ext, off := locate(slot)
	x := e.file(ext)
	if len(p) <= mappedMax {
		if err := copyMapped(p, x.m[off:off+int64(len(p))]); err != nil {
			return fmt.Errorf("read extent %d at %d: %w", ext, off, err)
		}
		return nil
	}
	if _, err := x.f.ReadAt(p, off); err != nil {
		return fmt.Errorf("read extent %d at %d: %w", ext, off, err)
	}
	return nil
}

// punchAll releases the disk space of freed slots (their old ciphertext is
// gone and the data dir shrinks), one fallocate per run of consecutive
// slots. A failure only costs space.
func (e *extents) punchAll(slots []uint64, log *slog.Logger) {
	slots = slices.Clone(slots)
	slices.Sort(slots)
	for i := 0; i < len(slots); {
		j := i + 1
		for j < len(slots) && slots[j] == slots[j-1]+1 && (slots[j]-1)%slotsPerExtent != 0 {
			j++
		}
		ext, off := locate(slots[i])
		err := unix.Fallocate(int(e.file(ext).f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, int64(j-i)*BlockSize)
		if err != nil {
			log.Warn("punch freed slots", "extent", ext, "offset", off, "slots", j-i, "err", err)
		}
		i = j
	}
}

// syncFailure is an fdatasync that failed, and the lineages whose writes it
// may have lost.
type syncFailure struct {
	err      error
	lineages map[uint64]bool
}

// sync fdatasyncs every extent with writes completed since its last sync.
// A failed fdatasync is never retried to cover the same writes: after EIO
// the kernel may have marked the pages clean, so a second fdatasync would
// "succeed" with the data lost. Instead it names the lineages whose data may
// be lost: every lineage with a write counted since the sync began or still
// in flight when it failed (any of whose pages the failed writeback may have
// held). Their later writes are covered by later syncs as usual.
func (e *extents) sync() *syncFailure {
	e.mu.Lock()
	files := slices.Clone(e.files)
	e.mu.Unlock()
	var fail *syncFailure
	for i, x := range files {
		x.mu.Lock()
		if x.written == x.synced {
			x.mu.Unlock()
			continue
		}
		w, writers := x.written, x.writers
		x.writers = map[uint64]struct{}{}
		x.mu.Unlock()
		e.lastSync.Store(time.Now().UnixNano())
		err := e.fdatasync(x.f)
		x.mu.Lock()
		if err == nil {
			x.synced = max(x.synced, w)
			x.mu.Unlock()
			continue
		}
		if fail == nil {
			fail = &syncFailure{lineages: map[uint64]bool{}}
		}
		fail.err = errors.Join(fail.err, fmt.Errorf("fdatasync extent %d: %w", i, err))
		for _, set := range []map[uint64]struct{}{writers, x.writers} {
			for l := range set {
				fail.lineages[l] = true
			}
		}
		for l := range x.inflight {
			fail.lineages[l] = true
		}
		x.synced = max(x.synced, w) // those writes are given up, not retried
		x.mu.Unlock()
	}
	return fail
}

func (e *extents) close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var errs []error
	for _, x := range e.files {
		errs = append(errs, unix.Munmap(x.m), x.f.Close())
	}
	e.files = nil
	return errors.Join(errs...)
}

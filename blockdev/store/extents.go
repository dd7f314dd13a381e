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
	mu    sync.Mutex
	files []*os.File
	maps  [][]byte // each file's mapping (mapped.go)
	alloc []int64  // bytes preallocated in each file
	dirty map[int]bool
	// lastSync is when sync last fdatasynced a file (unix nanoseconds).
	lastSync atomic.Int64
}

func openExtents(dir string) (*extents, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("extent dir: %w", err)
	}
	e := &extents{dir: dir, dirty: map[int]bool{}}
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

func (e *extents) path(i int) string { return filepath.Join(e.dir, fmt.Sprintf("extent-%06d", i)) }

func (e *extents) open(i int) error {
	f, err := os.OpenFile(e.path(i), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open extent: %w", err)
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
	e.files = append(e.files, f)
	e.maps = append(e.maps, m)
	e.alloc = append(e.alloc, fi.Size())
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
		extLast := min(last, uint64(ext+1)*slotsPerExtent) // the run's last slot in this extent
		_, lastOff := locate(extLast)
		end := lastOff + BlockSize
		if end > e.alloc[ext] {
			want := min((end+growStep-1)/growStep*growStep, slotsPerExtent*BlockSize)
			if err := unix.Fallocate(int(e.files[ext].Fd()), 0, e.alloc[ext], want-e.alloc[ext]); err != nil {
				return fmt.Errorf("grow extent %d: %w", ext, err)
			}
			e.alloc[ext] = want
		}
		s = extLast + 1
	}
	return nil
}

func (e *extents) file(ext int) *os.File {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.files[ext]
}

// writeRun writes len(p)/BlockSize consecutive slots starting at slot; the
// run must not cross an extent boundary. inPlace says that every slot of the
// run already holds written data (see mapped.go).
func (e *extents) writeRun(slot uint64, p []byte, inPlace bool) error {
	ext, off := locate(slot)
	e.mu.Lock()
	f, m := e.files[ext], e.maps[ext]
	e.dirty[ext] = true
	e.mu.Unlock()
	if inPlace && time.Now().UnixNano()-e.lastSync.Load() > int64(syncQuiet) {
		if err := copyMapped(m[off:off+int64(len(p))], p); err != nil {
			return fmt.Errorf("write extent %d at %d: %w", ext, off, err)
		}
		return nil
	}
	if !inPlace {
		// 4 KiB folios for the pwrite to fill (mapped.go); an old kernel
		// without MADV_POPULATE_READ just gets large ones.
		_ = unix.Madvise(m[off:off+int64(len(p))], unix.MADV_POPULATE_READ)
	}
	if _, err := f.WriteAt(p, off); err != nil {
		return fmt.Errorf("write extent %d at %d: %w", ext, off, err)
	}
	return nil
}

// readRun reads consecutive slots starting at slot into p.
func (e *extents) readRun(slot uint64, p []byte) error {
	ext, off := locate(slot)
	if len(p) <= mappedMax {
		e.mu.Lock()
		m := e.maps[ext]
		e.mu.Unlock()
		if err := copyMapped(p, m[off:off+int64(len(p))]); err != nil {
			return fmt.Errorf("read extent %d at %d: %w", ext, off, err)
		}
		return nil
	}
	if _, err := e.file(ext).ReadAt(p, off); err != nil {
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
		err := unix.Fallocate(int(e.file(ext).Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, int64(j-i)*BlockSize)
		if err != nil {
			log.Warn("punch freed slots", "extent", ext, "offset", off, "slots", j-i, "err", err)
		}
		i = j
	}
}

// sync fdatasyncs every extent written since the last sync.
func (e *extents) sync() error {
	e.mu.Lock()
	var files []*os.File
	for ext := range e.dirty {
		files = append(files, e.files[ext])
	}
	clear(e.dirty)
	e.mu.Unlock()
	if len(files) > 0 {
		e.lastSync.Store(time.Now().UnixNano())
	}
	var errs []error
	for _, f := range files {
		if err := unix.Fdatasync(int(f.Fd())); err != nil {
			errs = append(errs, fmt.Errorf("fdatasync %s: %w", f.Name(), err))
		}
	}
	if len(errs) > 0 {
		e.mu.Lock()
		for _, f := range files { // keep them dirty: the next sync retries
			for i, g := range e.files {
				if g == f {
					e.dirty[i] = true
				}
			}
		}
		e.mu.Unlock()
	}
	return errors.Join(errs...)
}

func (e *extents) close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var errs []error
	for i, f := range e.files {
		errs = append(errs, unix.Munmap(e.maps[i]), f.Close())
	}
	e.maps = nil
	return errors.Join(errs...)
}

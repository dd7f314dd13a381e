package fs

import (
	"fmt"
	"sync"
)

// MemDevice is a Device held in memory: a byte slice behind a lock. It is
// the bare go-fuse file that benchmarks measure the volumes against, and a
// real Device for tests. Memory is taken lazily by the OS as pages are
// first written.
type MemDevice struct {
	mu   sync.RWMutex
	data []byte
}

var _ Device = (*MemDevice)(nil)

// NewMemDevice returns a zeroed in-memory Device of size bytes.
func NewMemDevice(size int64) *MemDevice {
	return &MemDevice{data: make([]byte, size)}
}

// ReadAt reads len(p) bytes at off.
func (d *MemDevice) ReadAt(p []byte, off int64) (int, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if err := d.check(off, int64(len(p))); err != nil {
		return 0, err
	}
	return copy(p, d.data[off:]), nil
}

// WriteAt writes p at off.
func (d *MemDevice) WriteAt(p []byte, off int64) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.check(off, int64(len(p))); err != nil {
		return 0, err
	}
	return copy(d.data[off:], p), nil
}

// Size is the size given to NewMemDevice.
func (d *MemDevice) Size() int64 { return int64(len(d.data)) }

// Sync has nothing to do.
func (d *MemDevice) Sync() error { return nil }

// Discard zeroes the range.
func (d *MemDevice) Discard(off, length int64) error { return d.zero(off, length) }

// ZeroRange zeroes the range.
func (d *MemDevice) ZeroRange(off, length int64) error { return d.zero(off, length) }

func (d *MemDevice) zero(off, length int64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.check(off, length); err != nil {
		return err
	}
	clear(d.data[off : off+length])
	return nil
}

func (d *MemDevice) check(off, length int64) error {
	if off < 0 || length < 0 || off > int64(len(d.data))-length {
		return fmt.Errorf("memdevice: range [%d, +%d) outside %d bytes", off, length, len(d.data))
	}
	return nil
}

package crashfs

import (
	"path"
	"sync"
	"sync/atomic"
	"syscall"
)

// Op is an operation a Fault can fail.
type Op string

const (
	// OpFsync is FSYNC of a file (fsync, fdatasync, msync) and FSYNCDIR.
	OpFsync Op = "fsync"
	// OpWrite is WRITE of a file: write(2), and the kernel's writeback of
	// pages dirtied through a mapping.
	OpWrite Op = "write"
)

// Fault makes an operation on the files whose path matches Pattern fail.
type Fault struct {
	Op Op
	// Pattern is matched (path.Match) against the path relative to the
	// mount, e.g. "blocks/extents/extent-*".
	Pattern string
	// Times is how many times the fault fires; 0 or less: until cleared.
	Times int
	// Errno is the error; 0 means EIO.
	Errno syscall.Errno
}

// faults are the armed faults. Checking costs one atomic load while none is.
type faults struct {
	armed atomic.Bool
	mu    sync.Mutex
	list  []*Fault
	fired map[Op]int
}

// Inject arms a fault. Several may be armed; the first that matches fires.
func (f *FS) Inject(flt Fault) {
	if flt.Errno == 0 {
		flt.Errno = syscall.EIO
	}
	f.faults.mu.Lock()
	defer f.faults.mu.Unlock()
	f.faults.list = append(f.faults.list, &flt)
	f.faults.armed.Store(true)
}

// ClearFaults disarms every fault.
func (f *FS) ClearFaults() {
	f.faults.mu.Lock()
	defer f.faults.mu.Unlock()
	f.faults.list = nil
	f.faults.armed.Store(false)
}

// Fired says how many times faults of op fired since New.
func (f *FS) Fired(op Op) int {
	f.faults.mu.Lock()
	defer f.faults.mu.Unlock()
	return f.faults.fired[op]
}

// check returns the errno of a fault that fires for op on rel (computed
// only when a fault is armed), or 0.
func (fs *faults) check(op Op, rel func() string) syscall.Errno {
	if !fs.armed.Load() {
		return 0
	}
	p := rel()
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for i, flt := range fs.list {
		if flt.Op != op {
			continue
		}
		if ok, _ := path.Match(flt.Pattern, p); !ok {
			continue
		}
		if flt.Times > 0 {
			if flt.Times--; flt.Times == 0 {
				fs.list = append(fs.list[:i:i], fs.list[i+1:]...)
				fs.armed.Store(len(fs.list) > 0)
			}
		}
		if fs.fired == nil {
			fs.fired = map[Op]int{}
		}
		fs.fired[op]++
		return flt.Errno
	}
	return 0
}

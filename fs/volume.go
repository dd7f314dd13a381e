package fs

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// volumeNode is the file of one attached volume.
type volumeNode struct {
	gofs.Inode
	name string
	dev  Device
	size int64 // dev.Size(), read once: the size is fixed
	log  *slog.Logger

	mu       sync.Mutex // guards opens, the attributes, and detached against Open
	opens    int        // open handles, loop devices included
	attr     fileAttr
	detached atomic.Bool // set by detach; then the Device is never called again

	// io is held shared by every Device call and exclusively by detach,
	// which so waits for the calls in flight.
	io sync.RWMutex
}

// fileAttr is what chmod, chown and utimes change.
type fileAttr struct {
	mode                uint32 // permission bits only
	uid, gid            uint32
	atime, mtime, ctime time.Time
}

// handle is one open of a volume file. It carries nothing: the node does
// the work. It exists so that the kernel's RELEASE reaches Release.
type handle struct{}

var (
	_ = (gofs.NodeOpener)((*volumeNode)(nil))
	_ = (gofs.NodeReleaser)((*volumeNode)(nil))
	_ = (gofs.NodeGetattrer)((*volumeNode)(nil))
	_ = (gofs.NodeSetattrer)((*volumeNode)(nil))
	_ = (gofs.NodeFlusher)((*volumeNode)(nil))
	_ = (gofs.NodeFsyncer)((*volumeNode)(nil))
)

// openFlags are the FUSE open flags of every volume file: no page cache,
// and writes in parallel (the kernel allows PARALLEL_DIRECT_WRITES only
// together with DIRECT_IO).
const openFlags = fuse.FOPEN_DIRECT_IO | fuse.FOPEN_PARALLEL_DIRECT_WRITES

func newVolumeNode(name string, d Device, log *slog.Logger) *volumeNode {
	now := time.Now()
	return &volumeNode{
		name: name,
		dev:  d,
		size: d.Size(),
		log:  log,
		attr: fileAttr{mode: 0o600, atime: now, mtime: now, ctime: now},
	}
}

// Open counts the handle so that Remove can refuse while it is open.
func (n *volumeNode) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.detached.Load() {
		return nil, 0, errnoOf(n.log, n.name, "open", 0, errDetached)
	}
	n.opens++
	return &handle{}, openFlags, 0
}

// Release is the kernel's last word on a handle: every request that used
// it has been answered.
func (n *volumeNode) Release(ctx context.Context, f gofs.FileHandle) syscall.Errno {
	n.mu.Lock()
	n.opens--
	n.mu.Unlock()
	return 0
}

// openHandles returns how many handles are open.
func (n *volumeNode) openHandles() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.opens
}

// detach marks the node detached, so that the Device is never called
// again, and waits for the calls in flight. Unless force is set it does
// nothing while a handle is open, and reports whether it detached.
func (n *volumeNode) detach(force bool) bool {
	n.mu.Lock()
	if n.opens > 0 && !force {
		n.mu.Unlock()
		return false
	}
	n.detached.Store(true)
	n.mu.Unlock()
	n.io.Lock() // waits for the calls in flight; later ones see detached
	n.io.Unlock()
	return true
}

// begin starts a Device call: it fails once the node is detached, and
// otherwise holds detach off until the returned end is called.
func (n *volumeNode) begin() (end func(), err error) {
	n.io.RLock()
	if n.detached.Load() {
		n.io.RUnlock()
		return nil, errDetached
	}
	return n.io.RUnlock, nil
}

func (n *volumeNode) Getattr(ctx context.Context, f gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	n.mu.Lock()
	a := n.attr
	n.mu.Unlock()
	n.fillAttr(&out.Attr, a)
	return 0
}

func (n *volumeNode) fillAttr(out *fuse.Attr, a fileAttr) {
	out.Mode = syscall.S_IFREG | a.mode
	out.Size = uint64(n.size)
	out.Blocks = (uint64(n.size) + 511) / 512 // thin volumes report their full size
	out.Blksize = blockSize
	out.Nlink = 1
	out.Uid, out.Gid = a.uid, a.gid
	out.SetTimes(&a.atime, &a.mtime, &a.ctime)
}

// blockSize is the preferred I/O size reported in stat (st_blksize).
const blockSize = 4096

// Setattr keeps chmod, chown and utimes, and refuses any change of size.
func (n *volumeNode) Setattr(ctx context.Context, f gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if size, ok := in.GetSize(); ok && size != uint64(n.size) {
		return errnoOf(n.log, n.name, "truncate", int64(size), errFixedSize)
	}
	n.mu.Lock()
	setAttr(&n.attr, in)
	a := n.attr
	n.mu.Unlock()
	n.fillAttr(&out.Attr, a)
	return 0
}

func setAttr(a *fileAttr, in *fuse.SetAttrIn) {
	changed := false
	if mode, ok := in.GetMode(); ok {
		a.mode, changed = mode&0o777, true
	}
	if uid, ok := in.GetUID(); ok {
		a.uid, changed = uid, true
	}
	if gid, ok := in.GetGID(); ok {
		a.gid, changed = gid, true
	}
	if t, ok := in.GetATime(); ok {
		a.atime, changed = t, true
	}
	if t, ok := in.GetMTime(); ok {
		a.mtime, changed = t, true
	}
	if changed {
		a.ctime = time.Now()
	}
}

// Flush (on every close) has nothing to do: writes reach the Device
// before they are answered.
func (n *volumeNode) Flush(ctx context.Context, f gofs.FileHandle) syscall.Errno {
	return 0
}

// Fsync makes everything written durable. fdatasync is the same here.
func (n *volumeNode) Fsync(ctx context.Context, f gofs.FileHandle, flags uint32) syscall.Errno {
	return errnoOf(n.log, n.name, "fsync", 0, n.sync())
}

func (n *volumeNode) sync() error {
	end, err := n.begin()
	if err != nil {
		return err
	}
	defer end()
	return n.dev.Sync()
}

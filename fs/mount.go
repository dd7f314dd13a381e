package fs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// Options configure a mount. The zero value is usable.
type Options struct {
	// Logger receives the mount's log; nil means slog.Default().
	Logger *slog.Logger
	// MaxWrite is the largest read or write the kernel sends in one
	// request; 0 means 1 MiB (the kernel's limit here).
	MaxWrite int
	// Debug turns on go-fuse's log of every request (at debug level).
	Debug bool
}

// DefaultMaxWrite is MaxWrite when Options leave it 0.
const DefaultMaxWrite = 1 << 20

// releaseGrace is how long Remove waits for handles to close. The kernel
// sends RELEASE after close(2) has returned, so a caller that closes the
// file (or detaches its loop device) and removes it at once would
// otherwise see ErrBusy now and then.
const releaseGrace = time.Second

// MountPoint is a mounted directory of volume files.
type MountPoint struct {
	dir    string
	log    *slog.Logger
	root   *rootNode
	server *fuse.Server

	mu     sync.Mutex // guards files and closed
	files  map[string]*volumeNode
	closed bool
}

// Mount mounts an empty directory of volume files at dir, which is
// created if missing. A dead mount left at dir by a crashed daemon is
// detached first.
func Mount(dir string, o Options) (*MountPoint, error) {
	o = o.withDefaults()
	if err := prepareDir(dir, o.Logger); err != nil {
		return nil, err
	}
	setIOFlusher(o.Logger)
	root := &rootNode{}
	server, err := gofs.Mount(dir, root, fuseOptions(o))
	if err != nil {
		return nil, fmt.Errorf("mount volume files at %s: %w", dir, err)
	}
	logCapabilities(o.Logger, dir, server)
	return &MountPoint{dir: dir, log: o.Logger, root: root, server: server,
		files: make(map[string]*volumeNode)}, nil
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxWrite <= 0 {
		o.MaxWrite = DefaultMaxWrite
	}
	return o
}

// prepareDir creates dir, or detaches a dead FUSE mount found there.
func prepareDir(dir string, log *slog.Logger) error {
	_, err := os.Stat(dir)
	if errors.Is(err, syscall.ENOTCONN) {
		log.Warn("detaching a dead FUSE mount (lazy unmount)", "dir", dir)
		if err := lazyUnmount(dir); err != nil {
			return fmt.Errorf("detach dead mount at %s: %w", dir, err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create mount dir: %w", err)
	}
	return nil
}

// Add makes the file <dir>/<name> appear: mode 0600, owner root, size
// d.Size(). From now on the kernel may call d until Remove returns.
func (m *MountPoint) Add(name string, d Device) error {
	if err := checkName(name); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrUnmounted
	}
	if _, ok := m.files[name]; ok {
		return fmt.Errorf("%w: %s", ErrExists, name)
	}
	node := newVolumeNode(name, d, m.log.With("file", name))
	ctx := context.Background()
	child := m.root.NewInode(ctx, node, gofs.StableAttr{Mode: syscall.S_IFREG})
	if !m.root.AddChild(name, child, false) {
		return fmt.Errorf("%w: %s", ErrExists, name)
	}
	m.files[name] = node
	m.log.Debug("volume file added", "dir", m.dir, "file", name, "size", node.size)
	return nil
}

func checkName(name string) error {
	if name == "" || name == "." || name == ".." || len(name) > 255 ||
		strings.ContainsAny(name, "/\x00") {
		return fmt.Errorf("%w: %q", ErrInvalidName, name)
	}
	return nil
}

// Remove makes the file disappear. It returns ErrBusy while a handle is
// open (a process or a loop device), after waiting up to a second for
// handles that are being closed. Otherwise it waits for the Device calls
// in flight; once it returns, the Device is not called again.
func (m *MountPoint) Remove(name string) error {
	m.mu.Lock()
	node, ok := m.files[name]
	closed := m.closed
	m.mu.Unlock()
	if closed {
		return ErrUnmounted
	}
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	if !detachWithin(node, releaseGrace) {
		return fmt.Errorf("%w: %s", ErrBusy, name)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.files[name] != node {
		return fmt.Errorf("%w: %s", ErrNotFound, name) // a concurrent Remove won
	}
	delete(m.files, name)
	m.root.RmChild(name)
	// Drop the kernel's cached entry. ENOENT means it had none.
	if errno := m.root.NotifyDelete(name, node.EmbeddedInode()); errno != 0 && errno != syscall.ENOENT {
		m.log.Debug("notify delete", "file", name, "errno", errno.Error())
	}
	m.log.Debug("volume file removed", "dir", m.dir, "file", name)
	return nil
}

// detachWithin detaches node once no handle is open, polling up to grace.
func detachWithin(node *volumeNode, grace time.Duration) bool {
	deadline := time.Now().Add(grace)
	for !node.detach(false) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
	return true
}

// Names lists the volume files, sorted.
func (m *MountPoint) Names() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	names := make([]string, 0, len(m.files))
	for name := range m.files {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Dir is the mounted directory.
func (m *MountPoint) Dir() string { return m.dir }

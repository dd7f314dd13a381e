package crashfs

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// graveName is the directory, in the backing root, that keeps removed
// entries until a directory sync makes the removal durable. The mount does
// not show it.
const graveName = ".crashfs-graveyard"

// ErrMounted is returned by Cut and Mount while the file system is mounted.
var ErrMounted = errors.New("crashfs: mounted")

// Options configure a file system. The zero value is usable.
type Options struct {
	// Logger receives go-fuse's debug log and crashfs's own; nil: slog.Default().
	Logger *slog.Logger
	// Debug logs every FUSE request.
	Debug bool
	// Journaled: every successful fsync, fdatasync or directory fsync also
	// makes the metadata changed before it durable, as the one metadata
	// journal of ext4 or XFS does: every namespace change, and every size
	// set by truncate or fallocate (not the data, nor a size grown by
	// writes). POSIX does not promise it; the default follows POSIX: a
	// name is durable once its directory is fsynced, a size once its file
	// is.
	Journaled bool
}

// FS is a crash-simulating pass-through file system over a backing
// directory. See the package documentation for the model.
type FS struct {
	backing string
	grave   string
	log     *slog.Logger
	debug   bool
	journal bool
	faults  faults

	mu     sync.Mutex
	files  map[fileKey]*fileState // every file opened or changed since New or the last Cut
	dirs   map[fileKey]*dirState  // the directories changed since their last sync
	server *fuse.Server
	dir    string // where it is mounted
}

// New makes a file system over backing, an existing directory whose
// content is durable as it is.
func New(backing string, o Options) (*FS, error) {
	abs, err := filepath.Abs(backing)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("crashfs: backing dir %s: not a directory (%v)", abs, err)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	f := &FS{backing: abs, grave: filepath.Join(abs, graveName), log: o.Logger, debug: o.Debug, journal: o.Journaled,
		files: map[fileKey]*fileState{}, dirs: map[fileKey]*dirState{}}
	if err := emptyGrave(f.grave); err != nil {
		return nil, err
	}
	return f, nil
}

// Backing is the backing directory.
func (f *FS) Backing() string { return f.backing }

// Mount mounts the file system at dir (an existing directory).
func (f *FS) Mount(dir string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.server != nil {
		return fmt.Errorf("%w at %s", ErrMounted, f.dir)
	}
	lb, err := gofs.NewLoopbackRoot(f.backing)
	if err != nil {
		return fmt.Errorf("crashfs: loopback root: %w", err)
	}
	root := &node{LoopbackNode: lb.(*gofs.LoopbackNode), fsys: f}
	second := time.Second
	server, err := gofs.Mount(dir, root, &gofs.Options{
		EntryTimeout: &second, AttrTimeout: &second,
		MountOptions: fuse.MountOptions{
			FsName: "crashfs", Name: "crashfs",
			DirectMount: true,
			MaxWrite:    1 << 20,
			// We are the only writer: no invalidation on attribute changes.
			ExplicitDataCacheControl: true,
			// Passthrough would send reads and writes straight to the
			// backing files, past the undo log.
			DisabledCapabilities: fuse.CAP_PASSTHROUGH,
			Debug:                f.debug,
			Logger:               slog.NewLogLogger(f.log.Handler(), slog.LevelDebug),
		},
	})
	if err != nil {
		return fmt.Errorf("crashfs: mount %s: %w", dir, err)
	}
	f.server, f.dir = server, dir
	return nil
}

// Unmount unmounts. It fails while a file on the mount is open; the kernel
// has then written back every dirty page of the mount, as WRITEs.
func (f *FS) Unmount() error {
	f.mu.Lock()
	s, dir := f.server, f.dir
	f.mu.Unlock()
	if s == nil {
		return nil
	}
	if err := s.Unmount(); err != nil {
		return fmt.Errorf("crashfs: unmount %s: %w", dir, err)
	}
	s.Wait()
	f.mu.Lock()
	f.server, f.dir = nil, ""
	f.mu.Unlock()
	return nil
}

// Mounted says whether the file system is mounted.
func (f *FS) Mounted() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.server != nil
}

// SyncAll makes everything durable, as sync(2) would: every file's content
// and size, every directory's entries. Pages a failed fsync lost stay lost.
func (f *FS) SyncAll() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.files {
		s.mu.Lock()
		err := s.synced()
		s.mu.Unlock()
		if err != nil {
			return err
		}
	}
	clear(f.dirs)
	return f.collectGrave()
}

// commitJournal makes the metadata changed so far durable after a sync,
// with Options.Journaled: every name, every size set by truncate or
// fallocate.
func (f *FS) commitJournal() syscall.Errno {
	if !f.journal {
		return 0
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.files {
		s.mu.Lock()
		err := s.commitSize()
		s.mu.Unlock()
		if err != nil {
			f.log.Error("crashfs: journal commit", "err", err)
			return syscall.EIO
		}
	}
	clear(f.dirs)
	if err := f.collectGrave(); err != nil {
		f.log.Error("crashfs: graveyard", "err", err)
		return syscall.EIO
	}
	return 0
}

// rel is a backing path relative to the backing root ("" for the root).
func (f *FS) rel(path string) string {
	r, err := filepath.Rel(f.backing, path)
	if err != nil || r == "." {
		return ""
	}
	return r
}

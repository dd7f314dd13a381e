package crashfs

import (
	"context"
	"path/filepath"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// node is a loopback node whose namespace changes are recorded (dirs.go)
// and whose files are opened through the undo log (file.go).
type node struct {
	*gofs.LoopbackNode
	fsys *FS
}

var (
	_ = (gofs.NodeWrapChilder)((*node)(nil))
	_ = (gofs.NodeLookuper)((*node)(nil))
	_ = (gofs.NodeCreater)((*node)(nil))
	_ = (gofs.NodeOpener)((*node)(nil))
	_ = (gofs.NodeMkdirer)((*node)(nil))
	_ = (gofs.NodeMknoder)((*node)(nil))
	_ = (gofs.NodeSymlinker)((*node)(nil))
	_ = (gofs.NodeLinker)((*node)(nil))
	_ = (gofs.NodeUnlinker)((*node)(nil))
	_ = (gofs.NodeRmdirer)((*node)(nil))
	_ = (gofs.NodeRenamer)((*node)(nil))
	_ = (gofs.NodeSetattrer)((*node)(nil))
	_ = (gofs.NodeFsyncer)((*node)(nil))
	_ = (gofs.NodeOpendirHandler)((*node)(nil))
	_ = (gofs.NodeCopyFileRanger)((*node)(nil))
)

// WrapChild makes every node the loopback creates one of ours.
func (n *node) WrapChild(ctx context.Context, ops gofs.InodeEmbedder) gofs.InodeEmbedder {
	return &node{LoopbackNode: ops.(*gofs.LoopbackNode), fsys: n.fsys}
}

// path is the node's path in the backing directory.
func (n *node) path() string { return filepath.Join(n.fsys.backing, n.Path(n.Root())) }

// relPath is the node's path relative to the mount, for faults and logs.
func (n *node) relPath() string { return n.Path(nil) }

func (n *node) isRoot() bool { return n.EmbeddedInode() == n.Root() }

// hidden says whether name is the graveyard (in the root only).
func (n *node) hidden(name string) bool { return name == graveName && n.isRoot() }

func (n *node) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if n.hidden(name) {
		return nil, syscall.ENOENT
	}
	return n.LoopbackNode.Lookup(ctx, name, out)
}

// changing locks the namespace and records the durable entries of the
// node (a directory) before a change. Unlock f.mu after the change.
func (n *node) changing(names ...string) (string, syscall.Errno) {
	for _, name := range names {
		if n.hidden(name) {
			return "", syscall.EPERM
		}
	}
	f := n.fsys
	f.mu.Lock()
	dir := n.path()
	if err := f.dirChanging(dir); err != nil {
		f.mu.Unlock()
		f.log.Error("crashfs: directory entries", "dir", dir, "err", err)
		return "", syscall.EIO
	}
	return dir, 0
}

func (n *node) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	dir, errno := n.changing(name)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	defer n.fsys.mu.Unlock()
	if flags&syscall.O_TRUNC != 0 {
		if errno := n.fsys.truncating(filepath.Join(dir, name)); errno != 0 {
			return nil, nil, 0, errno
		}
	}
	ch, fh, fl, errno := n.LoopbackNode.Create(ctx, name, flags, mode, out)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	h, errno := n.fsys.wrap(ch.Operations().(*node), fh)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	return ch, h, fl, 0
}

func (n *node) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	f := n.fsys
	f.mu.Lock()
	defer f.mu.Unlock()
	if flags&syscall.O_TRUNC != 0 {
		if errno := f.truncating(n.path()); errno != 0 {
			return nil, 0, errno
		}
	}
	fh, fl, errno := n.LoopbackNode.Open(ctx, flags)
	if errno != 0 {
		return nil, 0, errno
	}
	h, errno := f.wrap(n, fh)
	return h, fl, errno
}

// truncating records the whole content of the regular file at path before
// O_TRUNC empties it. f.mu is held.
func (f *FS) truncating(path string) syscall.Errno {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0 // missing (created now), or not openable: the open will say
	}
	defer unix.Close(fd)
	x, err := statx(fd, "")
	if err != nil || x.Mode&unix.S_IFMT != unix.S_IFREG {
		return 0
	}
	s, err := f.stateLocked(keyOf(x), fd)
	if err == nil {
		s.mu.Lock()
		err = s.captureData(0, int64(x.Size))
		s.mu.Unlock()
	}
	if err != nil {
		f.log.Error("crashfs: O_TRUNC", "path", path, "err", err)
		return syscall.EIO
	}
	return 0
}

func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if _, errno := n.changing(name); errno != 0 {
		return nil, errno
	}
	defer n.fsys.mu.Unlock()
	return n.LoopbackNode.Mkdir(ctx, name, mode, out)
}

func (n *node) Mknod(ctx context.Context, name string, mode, rdev uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if _, errno := n.changing(name); errno != 0 {
		return nil, errno
	}
	defer n.fsys.mu.Unlock()
	return n.LoopbackNode.Mknod(ctx, name, mode, rdev, out)
}

func (n *node) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if _, errno := n.changing(name); errno != 0 {
		return nil, errno
	}
	defer n.fsys.mu.Unlock()
	return n.LoopbackNode.Symlink(ctx, target, name, out)
}

func (n *node) Link(ctx context.Context, target gofs.InodeEmbedder, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if _, errno := n.changing(name); errno != 0 {
		return nil, errno
	}
	defer n.fsys.mu.Unlock()
	return n.LoopbackNode.Link(ctx, target, name, out)
}

// Unlink moves the entry into the graveyard: a cut may bring it back.
func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	dir, errno := n.changing(name)
	if errno != 0 {
		return errno
	}
	defer n.fsys.mu.Unlock()
	p := filepath.Join(dir, name)
	x, err := statx(unix.AT_FDCWD, p)
	if err != nil {
		return gofs.ToErrno(err)
	}
	if x.Mode&unix.S_IFMT == unix.S_IFDIR {
		return syscall.EISDIR
	}
	return n.fsys.bury(p, x)
}

// Rmdir moves the (empty) directory into the graveyard.
func (n *node) Rmdir(ctx context.Context, name string) syscall.Errno {
	dir, errno := n.changing(name)
	if errno != 0 {
		return errno
	}
	defer n.fsys.mu.Unlock()
	p := filepath.Join(dir, name)
	x, err := statx(unix.AT_FDCWD, p)
	if err != nil {
		return gofs.ToErrno(err)
	}
	if x.Mode&unix.S_IFMT != unix.S_IFDIR {
		return syscall.ENOTDIR
	}
	if errno := emptyDir(p); errno != 0 {
		return errno
	}
	return n.fsys.bury(p, x)
}

// Rename keeps an entry it replaces in the graveyard, then renames.
func (n *node) Rename(ctx context.Context, name string, newParent gofs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	np, ok := newParent.(*node)
	if !ok || np.hidden(newName) {
		return syscall.EXDEV
	}
	dir, errno := n.changing(name)
	if errno != 0 {
		return errno
	}
	f := n.fsys
	defer f.mu.Unlock()
	newDir := np.path()
	if err := f.dirChanging(newDir); err != nil {
		return syscall.EIO
	}
	if flags&(unix.RENAME_EXCHANGE|unix.RENAME_NOREPLACE) != 0 {
		return n.LoopbackNode.Rename(ctx, name, newParent, newName, flags)
	}
	dst := filepath.Join(newDir, newName)
	old, err := statx(unix.AT_FDCWD, dst)
	if err != nil {
		return n.LoopbackNode.Rename(ctx, name, newParent, newName, flags)
	}
	src, err := statx(unix.AT_FDCWD, filepath.Join(dir, name))
	if err != nil {
		return gofs.ToErrno(err)
	}
	if keyOf(src) == keyOf(old) {
		return 0 // the same inode: rename does nothing
	}
	if old.Mode&unix.S_IFMT != unix.S_IFDIR {
		if errno := f.keep(dst, old); errno != 0 {
			return errno
		}
		return n.LoopbackNode.Rename(ctx, name, newParent, newName, flags)
	}
	return f.renameOverDir(n, ctx, name, np, newName, src, old)
}

// renameOverDir replaces the directory dst (old) with the directory src:
// old goes to the graveyard first and comes back if the rename fails.
func (f *FS) renameOverDir(n *node, ctx context.Context, name string, np *node, newName string, src, old *unix.Statx_t) syscall.Errno {
	if src.Mode&unix.S_IFMT != unix.S_IFDIR {
		return syscall.EISDIR
	}
	dst := filepath.Join(np.path(), newName)
	if errno := emptyDir(dst); errno != 0 {
		return errno
	}
	if errno := f.bury(dst, old); errno != 0 {
		return errno
	}
	errno := n.LoopbackNode.Rename(ctx, name, np, newName, 0)
	if errno != 0 {
		if err := unix.Rename(filepath.Join(f.grave, keyOf(old).String()), dst); err != nil {
			f.log.Error("crashfs: put back a directory after a failed rename", "dir", dst, "err", err)
		}
	}
	return errno
}

// Setattr records what a truncation takes away before it is made.
func (n *node) Setattr(ctx context.Context, fh gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	size, ok := in.GetSize()
	if !ok {
		return n.LoopbackNode.Setattr(ctx, fh, in, out)
	}
	s, errno := n.stateOf(fh)
	if errno != 0 {
		return errno
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var st unix.Stat_t
	if err := unix.Fstat(s.fd, &st); err != nil {
		return gofs.ToErrno(err)
	}
	if int64(size) < st.Size {
		if err := s.captureData(int64(size), st.Size-int64(size)); err != nil {
			n.fsys.log.Error("crashfs: truncate", "file", n.relPath(), "err", err)
			return syscall.EIO
		}
	} else {
		s.resized()
	}
	errno = n.LoopbackNode.Setattr(ctx, fh, in, out)
	if errno == 0 {
		if err := s.sizeSet(); err != nil {
			n.fsys.log.Error("crashfs: truncate", "file", n.relPath(), "err", err)
			return syscall.EIO
		}
	}
	return errno
}

// stateOf returns the state of the node's inode, through its handle if
// there is one, else by its path.
func (n *node) stateOf(fh gofs.FileHandle) (*fileState, syscall.Errno) {
	if h, ok := fh.(*file); ok && h != nil {
		return h.state, 0
	}
	fd, err := unix.Open(n.path(), unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, gofs.ToErrno(err)
	}
	defer unix.Close(fd)
	x, err := statx(fd, "")
	if err != nil {
		return nil, gofs.ToErrno(err)
	}
	if x.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, syscall.EINVAL
	}
	n.fsys.mu.Lock()
	defer n.fsys.mu.Unlock()
	s, err := n.fsys.stateLocked(keyOf(x), fd)
	if err != nil {
		return nil, syscall.EIO
	}
	return s, 0
}

// Fsync is FSYNC of a file and, for a handle that does not answer it
// itself, FSYNCDIR.
func (n *node) Fsync(ctx context.Context, fh gofs.FileHandle, flags uint32) syscall.Errno {
	if n.IsDir() {
		return n.fsys.syncDir(n)
	}
	s, errno := n.stateOf(fh)
	if errno != 0 {
		return errno
	}
	return n.fsys.syncFile(s, n.relPath)
}

func (n *node) OpendirHandle(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	fh, fl, errno := n.LoopbackNode.OpendirHandle(ctx, flags)
	if errno != 0 {
		return nil, 0, errno
	}
	return &dirHandle{inner: fh, node: n}, fl, 0
}

// CopyFileRange records the destination range, then copies.
func (n *node) CopyFileRange(ctx context.Context, fhIn gofs.FileHandle, offIn uint64, out *gofs.Inode,
	fhOut gofs.FileHandle, offOut uint64, length uint64, flags uint64) (uint32, syscall.Errno) {
	in, ok1 := fhIn.(*file)
	dst, ok2 := fhOut.(*file)
	if !ok1 || !ok2 {
		return 0, syscall.ENOTSUP
	}
	if errno := n.fsys.faults.check(OpWrite, dst.node.relPath); errno != 0 {
		return 0, errno
	}
	s := dst.state
	s.mu.RLock()
	defer s.mu.RUnlock()
	fl, errno := dst.begin(int64(offOut), int64(length))
	if errno != 0 {
		return 0, errno
	}
	defer s.end(fl)
	i, o := int64(offIn), int64(offOut)
	c, err := unix.CopyFileRange(in.fd, &i, dst.fd, &o, int(length), int(flags))
	return uint32(c), gofs.ToErrno(err)
}

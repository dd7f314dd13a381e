package fs

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// rootNode is the mount's directory. Its children are the volume files,
// which only Add and Remove change: go-fuse's defaults list them (Readdir)
// and find them (Lookup). Everything that would change the directory from
// outside is refused with EPERM. go-fuse would otherwise answer ENOTSUP or
// EROFS, and would let an Unlink succeed silently.
type rootNode struct {
	gofs.Inode
}

var (
	_ = (gofs.NodeGetattrer)((*rootNode)(nil))
	_ = (gofs.NodeCreater)((*rootNode)(nil))
	_ = (gofs.NodeMkdirer)((*rootNode)(nil))
	_ = (gofs.NodeMknoder)((*rootNode)(nil))
	_ = (gofs.NodeSymlinker)((*rootNode)(nil))
	_ = (gofs.NodeLinker)((*rootNode)(nil))
	_ = (gofs.NodeUnlinker)((*rootNode)(nil))
	_ = (gofs.NodeRmdirer)((*rootNode)(nil))
	_ = (gofs.NodeRenamer)((*rootNode)(nil))
	_ = (gofs.NodeSetattrer)((*rootNode)(nil))
)

// The refusals below return an errno directly: they are the FUSE boundary
// and there is no error to map.

func (r *rootNode) Getattr(ctx context.Context, f gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	out.Mode = syscall.S_IFDIR | 0o755
	out.Nlink = 2
	return 0
}

func (r *rootNode) Setattr(ctx context.Context, f gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return syscall.EPERM
}

func (r *rootNode) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, syscall.EPERM
}

func (r *rootNode) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.EPERM
}

func (r *rootNode) Mknod(ctx context.Context, name string, mode uint32, dev uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.EPERM
}

func (r *rootNode) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.EPERM
}

func (r *rootNode) Link(ctx context.Context, target gofs.InodeEmbedder, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.EPERM
}

func (r *rootNode) Unlink(ctx context.Context, name string) syscall.Errno {
	return syscall.EPERM
}

func (r *rootNode) Rmdir(ctx context.Context, name string) syscall.Errno {
	return syscall.EPERM
}

func (r *rootNode) Rename(ctx context.Context, name string, newParent gofs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	return syscall.EPERM
}

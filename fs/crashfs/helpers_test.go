package crashfs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) {
	if path := os.Getenv(mmapChildEnv); path != "" {
		if err := mmapChild(path); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// env is a crashfs mount on a fresh backing dir.
type env struct {
	t       *testing.T
	fs      *FS
	backing string
	mnt     string
}

// mount mounts a crashfs over a new backing dir, after fill (if not nil)
// has put the files that are durable from the start there. A cleanup
// unmounts it.
func mount(t *testing.T, fill func(backing string)) *env {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("SKIP: crashfs tests mount FUSE file systems and need root")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skipf("SKIP: /dev/fuse is missing: %v", err)
	}
	e := &env{t: t, backing: t.TempDir(), mnt: t.TempDir()}
	if fill != nil {
		fill(e.backing)
	}
	fsys, err := New(e.backing, Options{})
	if err != nil {
		t.Fatal(err)
	}
	e.fs = fsys
	if err := fsys.Mount(e.mnt); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := fsys.Unmount(); err != nil {
			t.Errorf("cleanup: %v", err)
			unix.Unmount(e.mnt, unix.MNT_DETACH)
		}
	})
	return e
}

// p is a path on the mount.
func (e *env) p(rel ...string) string { return filepath.Join(append([]string{e.mnt}, rel...)...) }

// cut unmounts, cuts and mounts again.
func (e *env) cut() CutReport {
	e.t.Helper()
	if err := e.fs.Unmount(); err != nil {
		e.t.Fatal(err)
	}
	r, err := e.fs.Cut()
	if err != nil {
		e.t.Fatalf("cut: %v", err)
	}
	e.t.Logf("cut: %v", r)
	if err := e.fs.Mount(e.mnt); err != nil {
		e.t.Fatal(err)
	}
	return r
}

// write creates or opens a file on the mount, writes data at off, fsyncs
// it if sync is set, and closes it.
func (e *env) write(rel string, off int64, data []byte, sync bool) {
	e.t.Helper()
	f, err := os.OpenFile(e.p(rel), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		e.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(data, off); err != nil {
		e.t.Fatal(err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			e.t.Fatal(err)
		}
	}
}

// syncDir fsyncs a directory on the mount.
func (e *env) syncDir(rel string) {
	e.t.Helper()
	d, err := os.Open(e.p(rel))
	if err != nil {
		e.t.Fatal(err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		e.t.Fatal(err)
	}
}

// want requires the file to hold exactly data.
func (e *env) want(rel string, data []byte) {
	e.t.Helper()
	got, err := os.ReadFile(e.p(rel))
	if err != nil {
		e.t.Fatalf("%s: %v", rel, err)
	}
	if !bytes.Equal(got, data) {
		e.t.Fatalf("%s: %d bytes (%s), want %d (%s)", rel, len(got), head(got), len(data), head(data))
	}
}

// wantGone requires the file to be missing.
func (e *env) wantGone(rel string) {
	e.t.Helper()
	if _, err := os.Lstat(e.p(rel)); !errors.Is(err, os.ErrNotExist) {
		e.t.Fatalf("%s: %v, want it gone", rel, err)
	}
}

func head(b []byte) string {
	if len(b) > 16 {
		b = b[:16]
	}
	return string(bytes.ReplaceAll(b, []byte{0}, []byte{'.'}))
}

func pattern(c byte, n int) []byte { return bytes.Repeat([]byte{c}, n) }

// durable writes files into a backing dir before the mount.
func durable(files map[string][]byte) func(string) {
	return func(backing string) {
		for rel, data := range files {
			p := filepath.Join(backing, rel)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				panic(err)
			}
			if err := os.WriteFile(p, data, 0o644); err != nil {
				panic(err)
			}
		}
	}
}

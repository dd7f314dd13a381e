package crashfs

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"testing"

	"golang.org/x/sys/unix"
)

// TestWritesSurviveOnlyWhenSynced: what a write changed since the file's
// last fsync is gone after a cut, what an fsync covered is there, for
// overwrites, appends, partial pages and a file that was never synced.
func TestWritesSurviveOnlyWhenSynced(t *testing.T) {
	old := append(pattern('o', 10000), 'X')
	e := mount(t, durable(map[string][]byte{"a": old, "b": old}))
	e.write("a", 4096, pattern('s', 5000), true)  // synced
	e.write("a", 100, pattern('u', 10), false)    // not synced: page 0 back
	e.write("a", 20000, pattern('g', 100), false) // not synced: size back
	e.write("b", 9000, pattern('u', 3000), false) // crosses the durable end
	e.write("new", 0, pattern('n', 8192), false)  // never synced
	e.syncDir(".")

	want := bytes.Clone(old)
	copy(want[4096:], pattern('s', 5000))
	r := e.cut()
	e.want("a", want)
	e.want("b", old)
	e.want("new", nil) // its name was synced, its content never
	if r.Files != 3 || len(r.Removed)+len(r.Restored) != 0 {
		t.Errorf("cut report %v: want 3 files and no entries", r)
	}

	// After a cut everything is durable: a second cut changes nothing.
	if r := e.cut(); r.Files != 0 || r.Pages != 0 {
		t.Errorf("a second cut rolled back %v", r)
	}
	e.want("a", want)
}

// TestMappedWritesNeedMsync writes pages through a MAP_SHARED mapping, one
// followed by msync and one not: after the process unmaps and closes, the
// kernel has sent both (the backing file holds them before the cut), and
// the cut keeps only the one msync made durable. A child process does the
// writes: a page fault on a mapping of our own mount would wait for our
// FUSE server, which a stop-the-world GC may have stopped.
func TestMappedWritesNeedMsync(t *testing.T) {
	e := mount(t, durable(map[string][]byte{"m": pattern('o', 4*pageSize)}))
	child := exec.Command(os.Args[0], "-test.run", "^$")
	child.Env = append(os.Environ(), mmapChildEnv+"="+e.p("m"))
	if out, err := child.CombinedOutput(); err != nil {
		t.Fatalf("mmap child: %v\n%s", err, out)
	}
	if err := e.fs.Unmount(); err != nil {
		t.Fatal(err)
	}
	back, err := os.ReadFile(e.backing + "/m")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back[3*pageSize:3*pageSize+100], pattern('u', 100)) {
		t.Fatalf("the unsynced mapped write never reached crashfs: %s", head(back[3*pageSize:]))
	}
	if _, err := e.fs.Cut(); err != nil {
		t.Fatal(err)
	}
	if err := e.fs.Mount(e.mnt); err != nil {
		t.Fatal(err)
	}
	want := pattern('o', 4*pageSize)
	copy(want[pageSize:], pattern('s', pageSize))
	e.want("m", want)
}

// mmapChildEnv names the file the mmap child writes through a mapping.
const mmapChildEnv = "CRASHFS_MMAP_CHILD"

// mmapChild writes page 1 of path through a mapping and msyncs it, then
// writes page 3 and only unmaps and closes.
func mmapChild(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	m, err := unix.Mmap(int(f.Fd()), 0, 4*pageSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return err
	}
	copy(m[pageSize:], pattern('s', pageSize))
	if err := unix.Msync(m[pageSize:2*pageSize], unix.MS_SYNC); err != nil {
		return err
	}
	copy(m[3*pageSize:], pattern('u', 100))
	return unix.Munmap(m)
}

// TestTruncateAndFallocate: truncation, growth by fallocate and punched
// holes are undone unless fsynced; fsynced, they stay.
func TestTruncateAndFallocate(t *testing.T) {
	data := pattern('d', 16*pageSize)
	e := mount(t, durable(map[string][]byte{"t": data, "g": data, "p": data, "q": data}))
	if err := os.Truncate(e.p("t"), 100); err != nil {
		t.Fatal(err)
	}
	e.write("t", 5*pageSize, pattern('x', 10), false) // after the truncation, in a hole it made
	g := open(t, e.p("g"))
	if err := unix.Fallocate(int(g.Fd()), 0, 0, 1<<20); err != nil {
		t.Fatal(err)
	}
	g.Close()
	p := open(t, e.p("p"))
	if err := unix.Fallocate(int(p.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, 2*pageSize, 3*pageSize); err != nil {
		t.Fatal(err)
	}
	p.Close()
	q := open(t, e.p("q"))
	if err := unix.Fallocate(int(q.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, 2*pageSize, 3*pageSize); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fallocate(int(q.Fd()), 0, 0, 1<<20); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fdatasync(int(q.Fd())); err != nil {
		t.Fatal(err)
	}
	q.Close()

	e.cut()
	e.want("t", data)
	e.want("g", data)
	e.want("p", data)
	punched := bytes.Clone(data)
	clear(punched[2*pageSize : 5*pageSize])
	punched = append(punched, make([]byte, 1<<20-len(punched))...)
	e.want("q", punched)
}

// TestCopyFileRange: a copy into a file is undone unless fsynced.
func TestCopyFileRange(t *testing.T) {
	e := mount(t, durable(map[string][]byte{"src": pattern('s', 4*pageSize), "dst": pattern('d', 4*pageSize)}))
	src, dst := open(t, e.p("src")), open(t, e.p("dst"))
	offIn, offOut := int64(0), int64(pageSize)
	if _, err := unix.CopyFileRange(int(src.Fd()), &offIn, int(dst.Fd()), &offOut, 2*pageSize, 0); err != nil {
		t.Fatal(err)
	}
	want := pattern('d', 4*pageSize)
	copy(want[pageSize:], pattern('s', 2*pageSize))
	e.want("dst", want)
	src.Close()
	dst.Close()
	e.cut()
	e.want("dst", pattern('d', 4*pageSize))
}

// TestFlockAndAppend: flock is enforced between two opens on the mount, and
// O_APPEND appends at the end.
func TestFlockAndAppend(t *testing.T) {
	e := mount(t, nil)
	a, err := os.OpenFile(e.p("LOCK"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b := open(t, e.p("LOCK"))
	defer b.Close()
	if err := unix.Flock(int(a.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(b.Fd()), unix.LOCK_EX|unix.LOCK_NB); !errors.Is(err, unix.EWOULDBLOCK) {
		t.Fatalf("a second flock: %v, want EWOULDBLOCK", err)
	}
	log, err := os.OpenFile(e.p("log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"one\n", "two\n"} {
		if _, err := log.WriteString(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := log.Sync(); err != nil {
		t.Fatal(err)
	}
	if _, err := log.WriteString("three\n"); err != nil {
		t.Fatal(err)
	}
	log.Close()
	a.Close()
	b.Close()
	e.syncDir(".")
	e.cut()
	e.want("log", []byte("one\ntwo\n"))
}

// TestCutWhileMounted: a cut needs the mount gone.
func TestCutWhileMounted(t *testing.T) {
	e := mount(t, nil)
	if _, err := e.fs.Cut(); !errors.Is(err, ErrMounted) {
		t.Fatalf("Cut while mounted: %v, want ErrMounted", err)
	}
}

func open(t *testing.T, p string) *os.File {
	t.Helper()
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

package crashfs

import (
	"errors"
	"os"
	"syscall"
	"testing"
)

// TestFsyncFaultLosesWhatItCovered: an injected EIO reaches the caller's
// fsync; the retry succeeds, but what the failed fsync covered is lost at
// the cut (as on Linux), unless written again; what was written after it
// and fsynced is durable.
func TestFsyncFaultLosesWhatItCovered(t *testing.T) {
	old := pattern('o', 3*pageSize)
	e := mount(t, durable(map[string][]byte{"data/f": old, "other": old}))
	e.fs.Inject(Fault{Op: OpFsync, Pattern: "data/*", Times: 1})
	f := open(t, e.p("data/f"))
	defer f.Close()
	if _, err := f.WriteAt(pattern('a', pageSize), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(pattern('b', pageSize), pageSize); err != nil {
		t.Fatal(err)
	}
	e.write("other", 0, pattern('x', pageSize), true) // no fault there
	if err := f.Sync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("fsync with a fault armed: %v, want EIO", err)
	}
	if n := e.fs.Fired(OpFsync); n != 1 {
		t.Fatalf("fired %d times, want 1", n)
	}
	if _, err := f.WriteAt(pattern('B', pageSize), pageSize); err != nil { // page 1 written again
		t.Fatal(err)
	}
	if _, err := f.WriteAt(pattern('c', pageSize), 2*pageSize); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatalf("the retry: %v", err)
	}
	f.Close()

	e.cut()
	want := pattern('o', pageSize) // page 0: lost with the failed fsync
	want = append(want, pattern('B', pageSize)...)
	want = append(want, pattern('c', pageSize)...)
	e.want("data/f", want)
	e.want("other", append(pattern('x', pageSize), old[pageSize:]...))
}

// TestWriteFaultUntilCleared: a write fault with no count fails every write
// to the matching files until cleared; the writes fail and change nothing.
func TestWriteFaultUntilCleared(t *testing.T) {
	e := mount(t, durable(map[string][]byte{"blocks/extent-000000": pattern('o', pageSize)}))
	e.fs.Inject(Fault{Op: OpWrite, Pattern: "blocks/extent-*"})
	f := open(t, e.p("blocks/extent-000000"))
	defer f.Close()
	for range 3 {
		if _, err := f.WriteAt([]byte("x"), 0); !errors.Is(err, syscall.EIO) {
			t.Fatalf("write with a fault armed: %v, want EIO", err)
		}
	}
	e.write("blocks/other", 0, []byte("no fault here"), true)
	e.fs.ClearFaults()
	if _, err := f.WriteAt([]byte("y"), 0); err != nil {
		t.Fatal(err)
	}
	if n := e.fs.Fired(OpWrite); n != 3 {
		t.Fatalf("fired %d times, want 3", n)
	}
	got, err := os.ReadFile(e.p("blocks/extent-000000"))
	if err != nil || string(got[:2]) != "yo" {
		t.Fatalf("after the faults: %q %v", head(got), err)
	}
}

// TestDirectoryFsyncFault: a failed directory fsync leaves its entries not
// durable.
func TestDirectoryFsyncFault(t *testing.T) {
	e := mount(t, durable(map[string][]byte{"d/old": nil}))
	e.write("d/new", 0, []byte("x"), true)
	e.fs.Inject(Fault{Op: OpFsync, Pattern: "d", Times: 1})
	d, err := os.Open(e.p("d"))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Sync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("directory fsync with a fault armed: %v, want EIO", err)
	}
	d.Close()
	e.cut()
	e.wantGone("d/new")
	e.want("d/old", nil)
}

package store

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestMappedOverwrites overwrites blocks in place through the extent
// mappings (small runs, no fdatasync in the last syncQuiet) and checks that
// reads see them at once and that a Flush makes them durable: a reopened
// store reads them back from the files.
func TestMappedOverwrites(t *testing.T) {
	ts := newTestStore(t)
	l, err := ts.s.OpenLineage(1, 1, 64)
	if err != nil {
		t.Fatal(err)
	}
	first := bytes.Repeat([]byte{1}, 16*BlockSize)
	if err := l.WriteBlocks(0, first); err != nil { // fresh slots: pwrite
		t.Fatal(err)
	}
	if err := ts.s.Flush(); err != nil {
		t.Fatal(err)
	}
	ts.s.ext.lastSync.Store(0) // as if the last fdatasync were long ago
	want := bytes.Clone(first)
	for i, lba := range []uint64{0, 3, 15} {
		b := bytes.Repeat([]byte{byte(10 + i)}, BlockSize)
		if err := l.WriteBlocks(lba, b); err != nil {
			t.Fatal(err)
		}
		copy(want[lba*BlockSize:], b)
	}
	l.mu.Lock()
	n := len(l.pending)
	l.mu.Unlock()
	if n != 0 {
		t.Fatalf("in-place overwrites made %d map changes, want 0", n)
	}
	got := make([]byte, len(want))
	if err := l.ReadBlocks(0, got, make([]bool, 16)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("reads do not see the mapped overwrites")
	}
	if err := ts.s.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	ts.reopen()
	if l, err = ts.s.OpenLineage(1, 1, 64); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	clear(got)
	if err := l.ReadBlocks(0, got, make([]bool, 16)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("mapped overwrites were not durable across a reopen")
	}
}

// TestMappedFaultIsEIO checks that a fault under a mapping (here: reading
// past the end of a truncated file, a SIGBUS) is an EIO, not a crash.
func TestMappedFaultIsEIO(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "extent"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := mapExtent(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, BlockSize)
	if err := copyMapped(buf, m[:BlockSize]); !errors.Is(err, syscall.EIO) {
		t.Fatalf("read past the end of the file: %v, want EIO", err)
	}
	if err := copyMapped(m[:BlockSize], buf); !errors.Is(err, syscall.EIO) {
		t.Fatalf("write past the end of the file: %v, want EIO", err)
	}
}

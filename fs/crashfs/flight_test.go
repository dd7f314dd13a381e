package crashfs

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestFsyncDuringWrite: an fsync that arrives while a write is in flight
// makes what was written before it durable, not that write (nor the
// growth of the file it makes), even when the write lands before the cut.
// No FUSE: the undo log itself, as the handlers drive it.
func TestFsyncDuringWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, pattern('o', 3*pageSize), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := openState(fileKey{ino: 1}, int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	write := func(off int64, data []byte) *flight {
		t.Helper()
		fl, err := s.begin(off, int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := unix.Pwrite(int(f.Fd()), data, off); err != nil {
			t.Fatal(err)
		}
		return fl
	}
	s.end(write(0, pattern('a', 100)))                 // done before the fsync: durable
	inPage0 := write(200, pattern('b', 100))           // in flight, same page: not durable
	inPage1 := write(pageSize, pattern('c', pageSize)) // in flight: not durable
	grows := write(3*pageSize, pattern('g', 10))       // in flight, grows the file
	if err := s.synced(); err != nil {
		t.Fatal(err)
	}
	s.end(inPage0)
	s.end(inPage1)
	s.end(grows)
	if _, err := s.restore(); err != nil {
		t.Fatal(err)
	}
	want := pattern('o', 3*pageSize)
	copy(want, pattern('a', 100))
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("after the cut: %d bytes %q...%q, want %d", len(got), head(got), head(got[pageSize:]), len(want))
	}
}

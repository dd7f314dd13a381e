package fs

import (
	"bytes"
	"os"
	"slices"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestFallocate checks that punch-hole and zero-range reach the Device with
// the exact byte range, zero exactly those bytes, and never grow the file.
func TestFallocate(t *testing.T) {
	m := mountTest(t)
	const size = 1 << 20
	d, path := addVolume(t, m, "vol-1", size)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd := int(f.Fd())
	model := bytes.Repeat([]byte{0xaa}, size)
	if _, err := f.WriteAt(model, 0); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name             string
		mode             uint32
		off, length      int64
		discards, zeroes []span
	}{
		{"punch a piece of a block", punchHole | keepSize, 1000, 3000, []span{{1000, 3000}}, nil},
		{"punch across blocks", punchHole | keepSize, 4096 + 512, 8192, []span{{4608, 8192}}, nil},
		{"zero a sector", zeroRange | keepSize, 65536 + 1536, 512, nil, []span{{67072, 512}}},
		{"zero without KEEP_SIZE", zeroRange, 100000, 777, nil, []span{{100000, 777}}},
		{"punch past the end is cut", punchHole | keepSize, size - 100, 4096, []span{{size - 100, 100}}, nil},
		{"zero past the end is cut", zeroRange | keepSize, size - 4096, 8192, nil, []span{{size - 4096, 4096}}},
		{"allocate", 0, 0, size, nil, nil},
		{"allocate with KEEP_SIZE", keepSize, 4096, size, nil, nil},
	} {
		if err := unix.Fallocate(fd, tc.mode, tc.off, tc.length); err != nil {
			t.Errorf("%s: fallocate: %v", tc.name, err)
			continue
		}
		discards, zeroes := d.takeSpans()
		if !slices.Equal(discards, tc.discards) || !slices.Equal(zeroes, tc.zeroes) {
			t.Errorf("%s: Discard %v, ZeroRange %v; want %v, %v", tc.name, discards, zeroes, tc.discards, tc.zeroes)
		}
		for _, s := range append(tc.discards, tc.zeroes...) {
			clear(model[s.off : s.off+s.length])
		}
	}
	checkRange(t, f, model, 0, size)
	fallocateRefusals(t, d, fd, size)
}

// fallocateRefusals checks the ranges and modes a block device refuses.
func fallocateRefusals(t *testing.T, d *recDevice, fd int, size int64) {
	for _, tc := range []struct {
		name        string
		mode        uint32
		off, length int64
		want        syscall.Errno
	}{
		{"punch at the end", punchHole | keepSize, size, 4096, syscall.EINVAL},
		{"zero at the end", zeroRange | keepSize, size + 4096, 4096, syscall.EINVAL},
		{"zero that would grow the file", zeroRange, size - 4096, 8192, syscall.EINVAL},
		{"allocate that would grow the file", 0, size - 4096, 8192, syscall.EINVAL},
		{"collapse range", unix.FALLOC_FL_COLLAPSE_RANGE, 0, 4096, syscall.EOPNOTSUPP},
		{"insert range", unix.FALLOC_FL_INSERT_RANGE, 0, 4096, syscall.EOPNOTSUPP},
		{"unshare range", unix.FALLOC_FL_UNSHARE_RANGE, 0, 4096, syscall.EOPNOTSUPP},
		{"punch without KEEP_SIZE", punchHole, 0, 4096, syscall.EOPNOTSUPP},
	} {
		errnoIs(t, tc.name, unix.Fallocate(fd, tc.mode, tc.off, tc.length), tc.want)
	}
	if discards, zeroes := d.takeSpans(); len(discards)+len(zeroes) > 0 {
		t.Errorf("refused fallocates reached the device: %v %v", discards, zeroes)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Size != size {
		t.Errorf("size after refused fallocates = %d, %v; want %d", st.Size, err, size)
	}
}

// TestAllocateModes covers the modes the kernel filters before they
// reach the mount, in case a kernel lets them through.
func TestAllocateModes(t *testing.T) {
	n := newVolumeNode("vol-1", NewMemDevice(8192), testLog)
	for _, mode := range []uint32{unix.FALLOC_FL_COLLAPSE_RANGE, unix.FALLOC_FL_INSERT_RANGE,
		unix.FALLOC_FL_UNSHARE_RANGE, punchHole | zeroRange | keepSize, unix.FALLOC_FL_NO_HIDE_STALE} {
		if errno := n.Allocate(t.Context(), nil, 0, 4096, mode); errno != syscall.EOPNOTSUPP {
			t.Errorf("mode %#x: %v, want EOPNOTSUPP", mode, errno)
		}
	}
	if errno := n.Allocate(t.Context(), nil, 0, 1<<63, punchHole|keepSize); errno != 0 {
		t.Errorf("huge length with KEEP_SIZE: %v, want it cut at the end", errno)
	}
}

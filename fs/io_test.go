package fs

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"sync"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sweepPoints are file offsets around 4 KiB (and 512-byte) boundaries.
func sweepPoints(size int64) []int64 {
	var pts []int64
	for _, base := range []int64{0, 4096, 8192, 65536, size - 8192, size - 4096} {
		for _, d := range []int64{-4097, -1, 0, 1, 511, 512, 4095} {
			if p := base + d; p >= 0 && p < size {
				pts = append(pts, p)
			}
		}
	}
	return pts
}

var sweepLengths = []int{1, 511, 512, 513, 4095, 4096, 4097, 8191, 12288, 65537}

// alignedBuf returns n bytes whose first byte is 4 KiB aligned, for O_DIRECT.
func alignedBuf(n int) []byte {
	b := make([]byte, n+4096)
	skip := (4096 - int(uintptr(unsafe.Pointer(&b[0]))%4096)) % 4096
	return b[skip : skip+n]
}

func TestReadWriteSweep(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags int
	}{{"buffered", 0}, {"odirect", syscall.O_DIRECT}} {
		t.Run(tc.name, func(t *testing.T) { testSweep(t, tc.flags) })
	}
}

// testSweep writes a fresh pattern at every offset and length of the
// sweep, reads each back with some margin, and compares the file and the
// Device against a byte slice.
func testSweep(t *testing.T, flags int) {
	m := mountTest(t)
	const size = 2 << 20
	d, path := addVolume(t, m, "vol-0123456789abcdef0", size)
	f, err := os.OpenFile(path, os.O_RDWR|flags, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	model := make([]byte, size)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, off := range sweepPoints(size) {
		for _, n := range sweepLengths {
			n = int(min(int64(n), size-off))
			buf := alignedBuf(n)
			fillRandom(rng, buf)
			if k, err := f.WriteAt(buf, off); err != nil || k != n {
				t.Fatalf("WriteAt(%d bytes at %d) = %d, %v", n, off, k, err)
			}
			copy(model[off:], buf)
			checkRange(t, f, model, off-100, int64(n)+200)
		}
	}
	bigWrite(t, f, model, rng)
	checkRange(t, f, model, 0, size)
	if !bytes.Equal(d.contents(), model) {
		t.Error("device contents differ from the model")
	}
}

// bigWrite writes more than MaxWrite at an odd offset: the kernel splits it.
func bigWrite(t *testing.T, f *os.File, model []byte, rng *rand.Rand) {
	t.Helper()
	const off, n = 4097, DefaultMaxWrite + 8193
	buf := alignedBuf(n)
	fillRandom(rng, buf)
	if k, err := f.WriteAt(buf, off); err != nil || k != n {
		t.Fatalf("WriteAt(%d bytes at %d) = %d, %v", n, off, k, err)
	}
	copy(model[off:], buf)
}

// checkRange reads [off, off+n) clipped to the file and compares it.
func checkRange(t *testing.T, f *os.File, model []byte, off, n int64) {
	t.Helper()
	off = max(off, 0)
	n = min(n, int64(len(model))-off)
	buf := alignedBuf(int(n))
	if k, err := f.ReadAt(buf, off); err != nil || int64(k) != n {
		t.Fatalf("ReadAt(%d bytes at %d) = %d, %v", n, off, k, err)
	}
	if !bytes.Equal(buf, model[off:off+n]) {
		t.Fatalf("ReadAt(%d bytes at %d): data differs from what was written", n, off)
	}
}

// fillRandom fills b from rng, eight bytes at a time.
func fillRandom(rng *rand.Rand, b []byte) {
	var word [8]byte
	for i := 0; i < len(b); i += 8 {
		binary.LittleEndian.PutUint64(word[:], rng.Uint64())
		copy(b[i:], word[:])
	}
}

func TestPastEnd(t *testing.T) {
	m := mountTest(t)
	const size = 1 << 20
	_, path := addVolume(t, m, "vol-1", size)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd := int(f.Fd())
	buf := make([]byte, 8192)
	for _, tc := range []struct{ off, want int }{{size - 100, 100}, {size, 0}, {size + 4096, 0}} {
		if k, err := unix.Pread(fd, buf, int64(tc.off)); err != nil || k != tc.want {
			t.Errorf("pread at %d = %d, %v; want %d, nil", tc.off, k, err, tc.want)
		}
	}
	// A write that crosses the end is cut short; one past it is ENOSPC.
	if k, err := unix.Pwrite(fd, buf, size-100); err != nil || k != 100 {
		t.Errorf("pwrite across the end = %d, %v; want 100, nil", k, err)
	}
	_, err = unix.Pwrite(fd, buf, size)
	errnoIs(t, "pwrite at the end", err, syscall.ENOSPC)
	_, err = unix.Pwrite(fd, buf, size+4096)
	errnoIs(t, "pwrite past the end", err, syscall.ENOSPC)
	// os.File.WriteAt writes the 10 bytes, then reports ENOSPC (and, as
	// it drops the count of a pwrite that fails, 0 bytes).
	copy(buf, "0123456789")
	_, err = f.WriteAt(buf, size-10)
	errnoIs(t, "WriteAt across the end", err, syscall.ENOSPC)
	if k, err := unix.Pread(fd, buf[100:200], size-10); err != nil || string(buf[100:100+k]) != "0123456789" {
		t.Errorf("read back of the write across the end = %q, %v", buf[100:100+k], err)
	}
	if st, err := f.Stat(); err != nil || st.Size() != size {
		t.Errorf("size after writes past the end = %v, %v; want %d", st.Size(), err, size)
	}
}

// TestConcurrentIO runs writers on disjoint regions, each checking its own
// data, against readers of the whole file, with and without O_DIRECT.
func TestConcurrentIO(t *testing.T) {
	m := mountTest(t)
	const writers, region = 6, 256 << 10
	d, path := addVolume(t, m, "vol-2", writers*region)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() { concurrentWriter(t, path, w, region, w%2 == 0) })
	}
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for r := range 3 {
		readers.Go(func() { concurrentReader(t, path, r, writers*region, stop) })
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	if d.calls.Load() == 0 {
		t.Error("the device was never called")
	}
}

func concurrentWriter(t *testing.T, path string, w, region int, direct bool) {
	flags := os.O_RDWR
	if direct {
		flags |= syscall.O_DIRECT
	}
	f, err := os.OpenFile(path, flags, 0)
	if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	rng := rand.New(rand.NewPCG(uint64(w), 7))
	base := int64(w * region)
	model := make([]byte, region)
	for range 150 {
		off := rng.IntN(region - 1)
		n := 1 + rng.IntN(min(region-off, 64<<10))
		buf := alignedBuf(n)
		fillRandom(rng, buf)
		if _, err := f.WriteAt(buf, base+int64(off)); err != nil {
			t.Errorf("writer %d: %v", w, err)
			return
		}
		copy(model[off:], buf)
		got := alignedBuf(n)
		if _, err := f.ReadAt(got, base+int64(off)); err != nil || !bytes.Equal(got, buf) {
			t.Errorf("writer %d: read back at %d: %v (equal %v)", w, off, err, bytes.Equal(got, buf))
			return
		}
	}
	got := make([]byte, region)
	if _, err := f.ReadAt(got, base); err != nil || !bytes.Equal(got, model) {
		t.Errorf("writer %d: region differs at the end: %v", w, err)
	}
}

func concurrentReader(t *testing.T, path string, r, size int, stop <-chan struct{}) {
	f, err := os.Open(path)
	if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	rng := rand.New(rand.NewPCG(uint64(r), 11))
	buf := make([]byte, 128<<10)
	for {
		select {
		case <-stop:
			return
		default:
		}
		off := rng.IntN(size)
		n := min(1+rng.IntN(len(buf)), size-off)
		if k, err := f.ReadAt(buf[:n], int64(off)); err != nil || k != n {
			t.Errorf("reader %d: ReadAt(%d at %d) = %d, %v", r, n, off, k, err)
			return
		}
	}
}

package blockdev

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/ebs-dev/ebs/blockdev/store"
	"github.com/ebs-dev/ebs/blockdev/xts"
	"github.com/ebs-dev/ebs/internal/kv"
)

// testVolume is a Volume over a real store in a temporary dir, which can be
// closed and opened again like the daemon does across restarts.
type testVolume struct {
	t         testing.TB
	dir       string
	key       []byte
	size      int64
	db        *kv.DB
	st        *store.Store
	v         *Volume
	lineageID uint64
}

func newTestVolume(t *testing.T, size int64, encrypted bool) *testVolume {
	t.Helper()
	return newTestVolumeTB(t, size, encrypted)
}

// newTestVolumeB is an encrypted test volume for benchmarks.
func newTestVolumeB(b *testing.B, size int64) *testVolume { return newTestVolumeTB(b, size, true) }

func newTestVolumeTB(t testing.TB, size int64, encrypted bool) *testVolume {
	t.Helper()
	tv := &testVolume{t: t, dir: t.TempDir(), size: size, lineageID: 7}
	if encrypted {
		tv.key = make([]byte, xts.KeySize)
		rand.Read(tv.key)
	}
	tv.open()
	t.Cleanup(tv.close)
	return tv
}

func (tv *testVolume) open() {
	tv.t.Helper()
	var err error
	if tv.db, err = kv.Open(filepath.Join(tv.dir, "meta"), kv.Options{}); err != nil {
		tv.t.Fatal(err)
	}
	if tv.st, err = store.Open(tv.dir, tv.db, store.Options{FlushInterval: -1}); err != nil {
		tv.t.Fatal(err)
	}
	v := &Volume{id: "vol-test", size: tv.size, log: testLogger()}
	lin, err := tv.st.OpenLineage(tv.lineageID, 1, uint64(tv.size/BlockSize))
	if err != nil {
		tv.t.Fatal(err)
	}
	v.lin.Store(lin)
	if tv.key != nil {
		c, err := xts.New(tv.key)
		if err != nil {
			tv.t.Fatal(err)
		}
		v.cipher = c
	}
	tv.v = v
}

func (tv *testVolume) close() {
	if tv.v == nil {
		return
	}
	if err := tv.v.close(); err != nil {
		tv.t.Error(err)
	}
	if err := tv.st.Close(); err != nil {
		tv.t.Error(err)
	}
	if err := tv.db.Close(); err != nil {
		tv.t.Error(err)
	}
	tv.v = nil
}

func (tv *testVolume) reopen() { tv.close(); tv.open() }

// TestOffsetSweep writes and reads every offset and length around block
// boundaries and checks the volume against a byte slice.
func TestOffsetSweep(t *testing.T) {
	for _, enc := range []bool{false, true} {
		t.Run(fmt.Sprintf("encrypted=%v", enc), func(t *testing.T) {
			tv := newTestVolume(t, 64*BlockSize, enc)
			model := make([]byte, tv.size)
			offsets := []int64{0, 1, 511, 512, 4095, 4096, 4097, 8191, 8192, 3*4096 - 7}
			lengths := []int{1, 2, 511, 512, 4095, 4096, 4097, 8192, 8193, 3*4096 + 5}
			for _, off := range offsets {
				for _, n := range lengths {
					p := make([]byte, n)
					rand.Read(p)
					if _, err := tv.v.WriteAt(p, off); err != nil {
						t.Fatalf("write %d at %d: %v", n, off, err)
					}
					copy(model[off:], p)
					got := make([]byte, n+2*BlockSize)
					rs := max(0, off-BlockSize)
					if _, err := tv.v.ReadAt(got, rs); err != nil {
						t.Fatalf("read at %d: %v", rs, err)
					}
					if !bytes.Equal(got, model[rs:rs+int64(len(got))]) {
						t.Fatalf("after write %d at %d: read at %d differs", n, off, rs)
					}
				}
			}
			tv.reopen()
			checkAll(t, tv.v, model)
		})
	}
}

func checkAll(t *testing.T, v *Volume, model []byte) {
	t.Helper()
	got := make([]byte, len(model))
	if _, err := v.ReadAt(got, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, model) {
		for i := range got {
			if got[i] != model[i] {
				t.Fatalf("volume differs from model at byte %d (block %d)", i, i/BlockSize)
			}
		}
	}
}

func TestEdges(t *testing.T) {
	tv := newTestVolume(t, 8*BlockSize, true)
	buf := make([]byte, 100)
	if n, err := tv.v.ReadAt(buf, tv.size-10); n != 10 || err != io.EOF {
		t.Fatalf("read past the end: %d %v", n, err)
	}
	if n, err := tv.v.ReadAt(buf, tv.size); n != 0 || err != io.EOF {
		t.Fatalf("read at the end: %d %v", n, err)
	}
	if _, err := tv.v.WriteAt(buf, tv.size-10); err == nil {
		t.Fatal("write past the end succeeded")
	}
	if _, err := tv.v.WriteAt(buf, -1); err == nil {
		t.Fatal("write at a negative offset succeeded")
	}
	// Unwritten blocks read as zeros and hold no storage.
	if _, err := tv.v.ReadAt(buf, 0); err != nil || !bytes.Equal(buf, make([]byte, 100)) {
		t.Fatalf("unwritten block: %v", err)
	}
	if tv.v.AllocatedBytes() != 0 {
		t.Fatalf("allocated %d before any write", tv.v.AllocatedBytes())
	}
}

// TestModel runs random writes, reads, discards, zero-ranges and syncs
// against a plain byte slice, reopening the store in between, for many seeds.
func TestModel(t *testing.T) {
	seeds := 12
	if testing.Short() {
		seeds = 4
	}
	for seed := 0; seed < seeds; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			runModel(t, uint64(seed), seed%2 == 0)
		})
	}
}

func runModel(t *testing.T, seed uint64, enc bool) {
	r := mrand.New(mrand.NewPCG(seed, 42))
	tv := newTestVolume(t, 256*BlockSize, enc)
	model := make([]byte, tv.size)
	for op := 0; op < 400; op++ {
		off := r.Int64N(tv.size)
		n := 1 + r.IntN(min(int(tv.size-off), 5*BlockSize))
		if r.IntN(3) == 0 { // aligned operations are what file systems send
			off = off / BlockSize * BlockSize
			n = (n + BlockSize - 1) / BlockSize * BlockSize
			n = min(n, int(tv.size-off))
		}
		switch k := r.IntN(10); {
		case k < 5:
			p := make([]byte, n)
			for i := range p {
				p[i] = byte(r.Uint32())
			}
			if _, err := tv.v.WriteAt(p, off); err != nil {
				t.Fatal(err)
			}
			copy(model[off:], p)
		case k < 7:
			got := make([]byte, n)
			if _, err := tv.v.ReadAt(got, off); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, model[off:off+int64(n)]) {
				t.Fatalf("op %d: read %d at %d differs from the model", op, n, off)
			}
		case k < 8:
			if err := tv.v.Discard(off, int64(n)); err != nil {
				t.Fatal(err)
			}
			clear(model[off : off+int64(n)])
		case k < 9:
			if err := tv.v.ZeroRange(off, int64(n)); err != nil {
				t.Fatal(err)
			}
			clear(model[off : off+int64(n)])
		default:
			if r.IntN(4) != 0 {
				if err := tv.v.Sync(); err != nil {
					t.Fatal(err)
				}
			} else {
				tv.reopen()
			}
		}
	}
	checkAll(t, tv.v, model)
	tv.reopen()
	checkAll(t, tv.v, model)
	// Every mapped block holds data the model has: no block is both
	// discarded in the model and still allocated.
	allocated := tv.v.AllocatedBytes() / BlockSize
	if used := tv.st.UsedBlocks(); used != uint64(allocated) {
		t.Fatalf("store has %d slots in use, the volume maps %d", used, allocated)
	}
}

// TestCiphertextOnDisk checks that an encrypted volume's extent files hold
// no plaintext, and an unencrypted one's do (the control).
func TestCiphertextOnDisk(t *testing.T) {
	canary := bytes.Repeat([]byte("CANARY-0123456789"), 300)
	for _, enc := range []bool{true, false} {
		tv := newTestVolume(t, 16*BlockSize, enc)
		if _, err := tv.v.WriteAt(canary, 3*BlockSize+100); err != nil {
			t.Fatal(err)
		}
		if err := tv.v.Sync(); err != nil {
			t.Fatal(err)
		}
		found := dirContains(t, tv.dir, []byte("CANARY-0123456789"))
		if found == enc {
			t.Fatalf("encrypted=%v: plaintext on disk = %v", enc, found)
		}
	}
}

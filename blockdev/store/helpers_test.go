package store

import (
	"bytes"
	"encoding/binary"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/ebs-dev/ebs/internal/kv"
)

// testStore is a Store over a badger DB in a temporary dir that can be
// closed (cleanly, or as in a crash) and opened again on the same files.
type testStore struct {
	t   testing.TB
	dir string
	db  *kv.DB
	s   *Store
}

func newTestStore(t testing.TB) *testStore {
	t.Helper()
	ts := &testStore{t: t, dir: t.TempDir()}
	ts.open()
	t.Cleanup(func() {
		if ts.s != nil {
			ts.close()
		}
	})
	return ts
}

func (ts *testStore) open() {
	ts.t.Helper()
	var err error
	if ts.db, err = kv.Open(filepath.Join(ts.dir, "meta"), kv.Options{Logger: quietLogger()}); err != nil {
		ts.t.Fatal(err)
	}
	if ts.s, err = Open(filepath.Join(ts.dir, "blocks"), ts.db, Options{FlushInterval: -1, Logger: quietLogger()}); err != nil {
		ts.t.Fatal(err)
	}
}

// close closes the store cleanly (the caller closes its lineages first).
func (ts *testStore) close() {
	ts.t.Helper()
	if err := ts.s.Close(); err != nil {
		ts.t.Error(err)
	}
	if err := ts.db.Close(); err != nil {
		ts.t.Error(err)
	}
	ts.s, ts.db = nil, nil
}

// crash stops the store as a power cut would, as far as the block map is
// concerned: whatever the open lineages hold in memory (map entries not yet
// flushed, frees not yet committed) is lost. What badger committed stays.
func (ts *testStore) crash() {
	ts.t.Helper()
	close(ts.s.stop)
	<-ts.s.done
	if err := ts.s.ext.close(); err != nil {
		ts.t.Error(err)
	}
	if err := ts.db.Close(); err != nil {
		ts.t.Error(err)
	}
	ts.s, ts.db = nil, nil
}

func (ts *testStore) reopen() {
	ts.t.Helper()
	ts.close()
	ts.open()
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// pattern is a block whose every 8 bytes hold (tag, lba): a read of the
// wrong block, or of a stale version, shows.
func pattern(tag, lba uint64) []byte {
	b := make([]byte, BlockSize)
	for i := 0; i < BlockSize; i += 16 {
		binary.LittleEndian.PutUint64(b[i:], tag)
		binary.LittleEndian.PutUint64(b[i+8:], lba)
	}
	return b
}

var zeroBlock = make([]byte, BlockSize)

// blockReader is a lineage head or a view.
type blockReader interface {
	ReadBlocks(lba uint64, dst []byte, mapped []bool) error
}

// wantBlocks checks blocks of r against want (nil: zeros, unmapped).
func wantBlocks(t testing.TB, what string, r blockReader, want map[uint64][]byte, lbas ...uint64) {
	t.Helper()
	buf := make([]byte, BlockSize)
	mapped := []bool{false}
	for _, lba := range lbas {
		if err := r.ReadBlocks(lba, buf, mapped); err != nil {
			t.Fatalf("%s: read block %d: %v", what, lba, err)
		}
		w := want[lba]
		if w == nil {
			w = zeroBlock
		}
		if !bytes.Equal(buf, w) {
			t.Errorf("%s: block %d: got tag %d lba %d, want tag %d lba %d (mapped %v)", what, lba,
				binary.LittleEndian.Uint64(buf), binary.LittleEndian.Uint64(buf[8:]),
				binary.LittleEndian.Uint64(w), binary.LittleEndian.Uint64(w[8:]), mapped[0])
		}
		if want[lba] != nil && !mapped[0] {
			t.Errorf("%s: block %d holds data but is reported unmapped", what, lba)
		}
	}
}

// mappedSlots is the set of slots the durable block map points at, and the
// number of map entries pointing at each (a slot must be in one entry).
func (ts *testStore) mappedSlots() map[uint64]int {
	ts.t.Helper()
	slots := map[uint64]int{}
	err := ts.db.View(func(tx *kv.Txn) error {
		return tx.Scan([]byte{mapPrefix}, nil, func(k, v []byte) error {
			if slot := parseSlot(v); slot != 0 {
				slots[slot]++
			}
			return nil
		})
	})
	if err != nil {
		ts.t.Fatal(err)
	}
	return slots
}

// checkAccounting flushes and checks that the allocator counts exactly the
// slots the durable map points at, each from one entry.
func (ts *testStore) checkAccounting(what string) {
	ts.t.Helper()
	if err := ts.s.Flush(); err != nil {
		ts.t.Fatal(err)
	}
	slots := ts.mappedSlots()
	for slot, n := range slots {
		if n != 1 {
			ts.t.Errorf("%s: slot %d is in %d map entries", what, slot, n)
		}
	}
	if got := ts.s.UsedBlocks(); got != uint64(len(slots)) {
		ts.t.Errorf("%s: UsedBlocks = %d, but the block map points at %d slots", what, got, len(slots))
	}
}

// keysWithPrefix counts the store's keys under a one-byte prefix.
func (ts *testStore) keysWithPrefix(p byte) int {
	ts.t.Helper()
	n := 0
	err := ts.db.View(func(tx *kv.Txn) error {
		return tx.Scan([]byte{p}, nil, func(_, _ []byte) error { n++; return nil })
	})
	if err != nil {
		ts.t.Fatal(err)
	}
	return n
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func writeBlock(t testing.TB, l *Lineage, lba uint64, b []byte) {
	t.Helper()
	must(t, l.WriteBlocks(lba, b))
}

// freeze snapshots l and pins the frozen generation for holder.
func freeze(t testing.TB, s *Store, l *Lineage, holder string) uint64 {
	t.Helper()
	var frozen uint64
	must(t, l.Freeze(func(gen uint64) error {
		frozen = gen
		return s.Pin(l.ID(), gen, holder)
	}))
	return frozen
}

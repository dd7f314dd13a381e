package store

import (
	"encoding/json"
	"testing"

	"github.com/ebs-dev/ebs/internal/kv"
)

// TestUnpinInTxWithRecord: a pin dropped with UnpinInTx goes in the same
// transaction as the caller's record, and its blocks are freed only by
// Collect. A crash between the commit and Collect leaves a collect key that
// the next Collect finishes: the blocks are freed, the lineage dropped and
// its parent's view released, and no key is left behind.
func TestUnpinInTxWithRecord(t *testing.T) {
	ts := newTestStore(t)
	parent := newHead(t, ts.s, testBlocks)
	for lba := range uint64(4) {
		writeBlock(t, parent, lba, pattern(1, lba))
	}
	gen := freeze(t, ts.s, parent, "snap")
	child, err := ts.s.NewLineage(parent.ID(), gen) // a volume restored from "snap"
	must(t, err)
	must(t, ts.s.Pin(child, HeadGen, "head"))
	c, err := ts.s.OpenLineage(child, 1, testBlocks)
	must(t, err)
	writeBlock(t, c, 9, pattern(2, 9))
	must(t, c.Close())
	must(t, parent.Close())
	ts.checkAccounting("before")
	used := ts.s.UsedBlocks()

	record := []byte("v/child")
	must(t, ts.db.Update(func(tx *kv.Txn) error { return tx.Set(record, nil) }))
	err = ts.db.Update(func(tx *kv.Txn) error {
		if err := tx.Delete(record); err != nil {
			return err
		}
		return ts.s.UnpinInTx(tx, child, HeadGen, "head")
	})
	must(t, err)
	must(t, ts.db.Sync())
	if got := ts.s.UsedBlocks(); got != used {
		t.Errorf("UnpinInTx freed %d blocks before Collect", used-got)
	}
	ts.crash() // before Collect
	ts.open()
	if n := ts.keysWithPrefix(collectPrefix); n != 1 {
		t.Fatalf("%d collect keys after the crash, want 1", n)
	}
	must(t, ts.s.Collect())
	ts.checkAccounting("after Collect")
	if got := ts.s.UsedBlocks(); got != used-1 {
		t.Errorf("UsedBlocks = %d after Collect, want %d (the child's one block freed)", got, used-1)
	}
	if n := ts.keysWithPrefix(collectPrefix); n != 0 {
		t.Errorf("%d collect keys left after Collect", n)
	}
	if ts.pinned(parent.ID(), gen) != 1 {
		t.Errorf("the parent's view at %d: %d pins, want 1 (snap; the child's is gone with it)", gen, ts.pinned(parent.ID(), gen))
	}
	must(t, ts.s.Unpin(parent.ID(), gen, "snap"))
	must(t, ts.s.Unpin(parent.ID(), HeadGen, "head"))
	must(t, ts.s.Flush()) // freed slots are counted until the commit that frees them
	if got := ts.s.UsedBlocks(); got != 0 {
		t.Errorf("UsedBlocks = %d with no pin left", got)
	}
	for _, p := range []byte{mapPrefix, changePrefix, pinPrefix, lineageRecPrefix, collectPrefix} {
		if n := ts.keysWithPrefix(p); n != 0 {
			t.Errorf("%d %q keys left after every lineage went", n, p)
		}
	}
}

// pinned counts the pins on the view of lineage at gen.
func (ts *testStore) pinned(lineage, gen uint64) int {
	ts.t.Helper()
	n := 0
	err := ts.db.View(func(tx *kv.Txn) error {
		return tx.Scan(pinKey(lineage, gen, ""), nil, func(_, _ []byte) error { n++; return nil })
	})
	must(ts.t, err)
	return n
}

// TestRelatedReportsErrors: a lineage record that cannot be read is an
// error, not "unrelated".
func TestRelatedReportsErrors(t *testing.T) {
	ts := newTestStore(t)
	parent, err := ts.s.NewLineage(0, 0)
	must(t, err)
	child, err := ts.s.NewLineage(parent, 1)
	must(t, err)
	if ok, err := ts.s.Related(parent, child); !ok || err != nil {
		t.Fatalf("Related(parent, child) = %v, %v; want true", ok, err)
	}
	rec, _ := json.Marshal(lineageRecord{Parent: parent, ParentGen: 1})
	must(t, ts.db.Update(func(tx *kv.Txn) error { return tx.Set(lineageKey(child), rec[:len(rec)-1]) }))
	if ok, err := ts.s.Related(parent, child); err == nil {
		t.Errorf("Related over a torn lineage record = %v, nil; want an error", ok)
	}
}

package blockdev

import (
	"context"
	"encoding/binary"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/ebs-dev/ebs/blockdev/store"
	"github.com/ebs-dev/ebs/internal/kv"
)

// newTestManager is a Manager over a real store, without a KMS (enough for
// unencrypted volumes).
func newTestManager(t *testing.T) (*Manager, *kv.DB, *store.Store) {
	t.Helper()
	dir := t.TempDir()
	db, err := kv.Open(filepath.Join(dir, "meta"), kv.Options{Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(dir, db, store.Options{FlushInterval: -1, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Error(err)
		}
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	return NewManager(Config{DB: db, Store: st, Region: "us-east-1", Account: "000000000000", Logger: testLogger()}), db, st
}

// TestDeleteVolumeRecordAndPinTogether: a volume's record and the pin of
// its head go in one transaction, so that no crash can leave a record whose
// blocks are freed (or a pin that no record will ever drop).
//
// The crash point is forced: the test opens the volume's lineage itself and
// holds it in a Freeze, so that the store's unpin, which refreshes the open
// lineage's pins, waits there. Whatever is committed at that moment is what
// a crash would leave.
func TestDeleteVolumeRecordAndPinTogether(t *testing.T) {
	m, db, st := newTestManager(t)
	ctx := context.Background()
	info, err := m.Create(ctx, &CreateVolumeInput{Size: 1})
	if err != nil {
		t.Fatal(err)
	}
	v, err := m.Attach(ctx, info.VolumeID, "/dev/test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.WriteAt(make([]byte, 64<<10), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Detach(ctx, info.VolumeID); err != nil {
		t.Fatal(err)
	}
	r, err := m.get(info.VolumeID)
	if err != nil {
		t.Fatal(err)
	}
	lin, err := st.OpenLineage(r.Lineage, r.Gen, r.blocks())
	if err != nil {
		t.Fatal(err)
	}
	holding, release, frozen := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		frozen <- lin.Freeze(func(uint64) error {
			close(holding)
			<-release
			return errors.New("not this one")
		})
	}()
	<-holding
	deleted := make(chan error, 1)
	go func() { deleted <- m.Delete(ctx, info.VolumeID) }()

	headPin := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64([]byte{'p'}, r.Lineage), store.HeadGen)
	has := func(key []byte) bool {
		found := false
		if err := db.View(func(tx *kv.Txn) error {
			return tx.Scan(key, nil, func(_, _ []byte) error { found = true; return kv.ErrStop })
		}); err != nil {
			t.Fatal(err)
		}
		return found
	}
	for deadline := time.Now().Add(30 * time.Second); has(headPin); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			close(release)
			t.Fatal("the delete did not drop the head's pin")
		}
	}
	if has([]byte(prefixVolume + info.VolumeID)) {
		t.Errorf("the head's pin is gone while the record of %s is still there: a crash now leaves a volume over freed blocks", info.VolumeID)
	}
	close(release)
	if err := <-deleted; err != nil {
		t.Fatal(err)
	}
	<-frozen
	if err := lin.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Flush(); err != nil {
		t.Fatal(err)
	}
	if used := st.UsedBlocks(); used != 0 {
		t.Errorf("UsedBlocks = %d after the volume was deleted", used)
	}
}

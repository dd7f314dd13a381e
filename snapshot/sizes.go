package snapshot

import (
	"errors"
	"fmt"

	"github.com/ebs-dev/ebs/blockdev/store"
	"github.com/ebs-dev/ebs/internal/kv"
)

// fullSize is FullSnapshotSizeInBytes: the bytes of the blocks that hold
// data in the snapshot's view. A view never changes, so the size is kept in
// the record: a copy records it when it completes; otherwise the first call
// counts it from the block map and saves it (without a sync: a crash only
// means counting it again). nil: the snapshot was deleted meanwhile.
func (s *Service) fullSize(r *record) (*int64, error) {
	if r.Full != nil {
		return r.Full, nil
	}
	n, ok, err := s.countMapped(r)
	if err != nil || !ok {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	err = s.cfg.DB.Update(func(tx *kv.Txn) error {
		cur, err := s.load(tx, r.ID)
		if err != nil || cur.Full != nil {
			return err
		}
		cur.Full = &n
		return save(tx, cur)
	})
	if errors.Is(err, ErrSnapshotNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("record the size of %s: %w", r.ID, err)
	}
	return &n, nil
}

// countMapped counts the bytes mapped in a completed snapshot's view, while
// no delete can free them; ok is false if the snapshot is gone.
func (s *Service) countMapped(r *record) (n int64, ok bool, err error) {
	s.blocksMu.RLock()
	defer s.blocksMu.RUnlock()
	if _, err := s.get(r.ID); errors.Is(err, ErrSnapshotNotFound) {
		return 0, false, nil
	} else if err != nil {
		return 0, false, err
	}
	src := r.Source
	v, err := s.cfg.Store.OpenView(src.Lineage, src.Gen, uint64(src.SizeGiB)<<30/store.BlockSize)
	if err != nil {
		return 0, false, fmt.Errorf("size of %s: %w", r.ID, err)
	}
	v.Mapped(func(uint64) { n += store.BlockSize })
	return n, true, nil
}

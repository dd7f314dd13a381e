package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ebs-dev/ebs/internal/kv"
)

// lineageRecord describes a lineage: a volume's history of blocks. A
// lineage made from a snapshot reads through to its parent's view (the
// parent lineage at the snapshot's generation) for blocks it has not
// written, so a volume restored from a snapshot shares its blocks until it
// overwrites them.
type lineageRecord struct {
	Parent    uint64 `json:"parent,omitempty"`
	ParentGen uint64 `json:"parentGen,omitempty"`
}

const keyNextLineage = "seq/lineage"

// NewLineage creates a lineage, empty or reading through to the view of
// parent at parentGen (parent 0: none), in a transaction of its own, and
// returns its id.
func (s *Store) NewLineage(parent, parentGen uint64) (uint64, error) {
	var id uint64
	err := s.db.Update(func(tx *kv.Txn) error {
		var err error
		id, err = s.NewLineageInTx(tx, parent, parentGen)
		return err
	})
	if err == nil {
		err = s.db.Sync()
	}
	if err != nil {
		return 0, fmt.Errorf("new lineage: %w", err)
	}
	return id, nil
}

// NewLineageInTx creates a lineage in the caller's transaction on the
// store's database, so that it is committed with the record that holds it
// (and pins it): a crash never leaves a lineage no one knows of. A lineage
// with a parent pins the parent's view until it is gone.
//
// Ids come from one counter under one lock, persisted (and synced) before
// the id is handed out: concurrent callers never share an id, and the
// counter never goes back across a restart. A transaction that is not
// committed only skips an id.
func (s *Store) NewLineageInTx(tx *kv.Txn, parent, parentGen uint64) (uint64, error) {
	id, err := s.reserveLineage()
	if err != nil {
		return 0, err
	}
	rec, _ := json.Marshal(lineageRecord{Parent: parent, ParentGen: parentGen})
	if err := tx.Set(lineageKey(id), rec); err != nil {
		return 0, err
	}
	if parent != 0 {
		if err := tx.Set(pinKey(parent, parentGen, lineageHolder(id)), nil); err != nil {
			return 0, err
		}
	}
	return id, nil
}

func (s *Store) reserveLineage() (uint64, error) {
	s.idMu.Lock()
	defer s.idMu.Unlock()
	id := s.lastLineage + 1
	err := s.db.Update(func(tx *kv.Txn) error {
		return tx.Set([]byte(keyNextLineage), binary.BigEndian.AppendUint64(nil, id))
	})
	if err == nil {
		err = s.db.Sync()
	}
	if err != nil {
		return 0, fmt.Errorf("new lineage id: %w", err)
	}
	s.lastLineage = id
	return id, nil
}

// loadLastLineage reads the lineage counter: the highest of the persisted
// counter and of every lineage with a record (loadAllocator adds those with
// map entries).
func (s *Store) loadLastLineage() error {
	return s.db.View(func(tx *kv.Txn) error {
		raw, err := tx.Get([]byte(keyNextLineage))
		switch {
		case err == nil && len(raw) == 8:
			s.lastLineage = binary.BigEndian.Uint64(raw)
		case err == nil:
			return fmt.Errorf("lineage counter of %d bytes", len(raw))
		case !errors.Is(err, kv.ErrNotFound):
			return err
		}
		return tx.Scan([]byte{lineageRecPrefix}, nil, func(k, _ []byte) error {
			if len(k) == 9 {
				s.lastLineage = max(s.lastLineage, binary.BigEndian.Uint64(k[1:]))
			}
			return nil
		})
	})
}

func lineageHolder(id uint64) string { return fmt.Sprintf("lineage:%d", id) }

func (s *Store) lineageRecord(tx *kv.Txn, id uint64) (lineageRecord, error) {
	var rec lineageRecord
	raw, err := tx.Get(lineageKey(id))
	if errors.Is(err, kv.ErrNotFound) {
		return rec, nil // a lineage without a record has no parent
	}
	if err != nil {
		return rec, err
	}
	return rec, json.Unmarshal(raw, &rec)
}

// loadView fills t with the view of lineage id at generation gen: for each
// block, the newest entry born at or before gen, else the parent's view.
// Entries inherited from a parent get birth 0, so they are never written in
// place.
func (s *Store) loadView(tx *kv.Txn, id, gen, blocks uint64, t *table, depth int) error {
	if depth > 64 {
		return fmt.Errorf("lineage %d: parent chain too deep", id)
	}
	rec, err := s.lineageRecord(tx, id)
	if err != nil {
		return err
	}
	if rec.Parent != 0 {
		if err := s.loadView(tx, rec.Parent, rec.ParentGen, blocks, t, depth+1); err != nil {
			return err
		}
		if depth == 0 {
			t.each(func(lba uint64, e entry) { t.set(lba, entry{slot: e.slot}) })
		}
	}
	last := ^uint64(0)
	return tx.Scan(lineagePrefix(id), nil, func(k, v []byte) error {
		_, lba, birth, ok := parseMapKey(k)
		if !ok || lba == last || birth > gen || lba >= blocks {
			return nil
		}
		last = lba // entries of a block come newest first
		t.set(lba, entry{slot: parseSlot(v), birth: birth})
		return nil
	})
}

// View is a read-only view of a lineage at a generation: a snapshot.
type View struct {
	s      *Store
	blocks uint64
	t      *table
}

// OpenView loads the view of lineage id at generation gen, for a volume of
// the given number of blocks.
func (s *Store) OpenView(id, gen, blocks uint64) (*View, error) {
	v := &View{s: s, blocks: blocks, t: newTable(blocks)}
	err := s.db.View(func(tx *kv.Txn) error { return s.loadView(tx, id, gen, blocks, v.t, 0) })
	if err != nil {
		return nil, fmt.Errorf("open view of lineage %d at %d: %w", id, gen, err)
	}
	return v, nil
}

// Blocks is the view's size in blocks.
func (v *View) Blocks() uint64 { return v.blocks }

// Mapped calls fn for every block of the view that holds data, in order.
func (v *View) Mapped(fn func(lba uint64)) {
	v.t.each(func(lba uint64, e entry) {
		if e.slot != 0 {
			fn(lba)
		}
	})
}

// Slot is the slot holding block lba (0: zeros); two views that give a
// block the same slot share its data.
func (v *View) Slot(lba uint64) uint64 {
	e, _ := v.t.get(lba)
	return e.slot
}

// ReadBlocks reads len(dst)/BlockSize blocks from lba, as Lineage.ReadBlocks.
func (v *View) ReadBlocks(lba uint64, dst []byte, mapped []bool) error {
	n := len(dst) / BlockSize
	if lba > v.blocks || uint64(n) > v.blocks-lba {
		return fmt.Errorf("blocks [%d, %d) outside a %d-block view", lba, lba+uint64(n), v.blocks)
	}
	slots := make([]uint64, n)
	for i := range slots {
		slots[i] = v.Slot(lba + uint64(i))
		mapped[i] = slots[i] != 0
		if !mapped[i] {
			clear(dst[i*BlockSize : (i+1)*BlockSize])
		}
	}
	return forRuns(slots, func(i, j int) error { return v.s.ext.readRun(slots[i], dst[i*BlockSize:j*BlockSize]) })
}

// Related reports whether two lineages share history: one is the other or
// an ancestor of it (through the parent views they read through to).
func (s *Store) Related(a, b uint64) (bool, error) {
	var ab, bb map[uint64]bool
	err := s.db.View(func(tx *kv.Txn) error {
		var err error
		if ab, err = s.ancestors(tx, a); err != nil {
			return err
		}
		bb, err = s.ancestors(tx, b)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("lineages %d and %d: %w", a, b, err)
	}
	return ab[b] || bb[a], nil
}

// ancestors is the set of a lineage and the lineages it reads through to.
func (s *Store) ancestors(tx *kv.Txn, id uint64) (map[uint64]bool, error) {
	seen := map[uint64]bool{}
	for i := 0; id != 0 && !seen[id]; i++ {
		if i == 64 {
			return nil, fmt.Errorf("lineage %d: parent chain too deep", id)
		}
		seen[id] = true
		rec, err := s.lineageRecord(tx, id)
		if err != nil {
			return nil, err
		}
		id = rec.Parent
	}
	return seen, nil
}

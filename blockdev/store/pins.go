package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/ebs-dev/ebs/internal/kv"
)

// HeadGen is the generation at which a volume's head pins its lineage: the
// head sees the newest entry of every block.
const HeadGen = maxBirth

// Pin records that holder (a snapshot id, "head", a lineage) needs the view
// of lineage at gen. Blocks are freed only when no pin needs them.
func (s *Store) Pin(lineage, gen uint64, holder string) error {
	err := s.db.Update(func(tx *kv.Txn) error { return tx.Set(pinKey(lineage, gen, holder), nil) })
	if err != nil {
		return fmt.Errorf("pin lineage %d at %d: %w", lineage, gen, err)
	}
	return s.db.Sync()
}

// Unpin drops holder's pin and frees what no pin needs any more (see
// Collect). To drop a pin together with the record that held it, use
// UnpinInTx in the record's transaction, then Collect.
func (s *Store) Unpin(lineage, gen uint64, holder string) error {
	if err := s.db.Update(func(tx *kv.Txn) error { return s.UnpinInTx(tx, lineage, gen, holder) }); err != nil {
		return fmt.Errorf("unpin lineage %d at %d: %w", lineage, gen, err)
	}
	return s.Collect()
}

// UnpinInTx drops holder's pin inside the caller's transaction on the
// store's database, so that a record and the pin it held go together, and
// notes in the same transaction that the view may have blocks to free
// (a collect key). Nothing is freed before Collect runs, after the commit; a
// crash in between leaves the note for the next Collect.
func (s *Store) UnpinInTx(tx *kv.Txn, lineage, gen uint64, holder string) error {
	if err := tx.Delete(pinKey(lineage, gen, holder)); err != nil {
		return err
	}
	return tx.Set(collectKey(lineage, gen), nil)
}

// Collect frees the blocks of the views whose pins were dropped: for each
// collect key, if no pin is left at that generation, the blocks only it
// needed (walking the change index of the generations it alone covered,
// never the whole map); a lineage left with no pins at all is deleted, and
// releases its own parent's view. Each key is deleted in the transaction
// that finishes its work, so that Collect after a crash finishes it.
func (s *Store) Collect() error {
	if err := s.Flush(); err != nil { // the map must show every newer entry
		return err
	}
	s.gcMu.Lock()
	defer s.gcMu.Unlock()
	var todo [][2]uint64
	err := s.db.View(func(tx *kv.Txn) error {
		return tx.Scan([]byte{collectPrefix}, nil, func(k, _ []byte) error {
			if lineage, gen, ok := parseCollectKey(k); ok {
				todo = append(todo, [2]uint64{lineage, gen})
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("list views to collect: %w", err)
	}
	for _, c := range todo {
		if err := s.collect(c[0], c[1], 0); err != nil {
			return fmt.Errorf("free the blocks of lineage %d at %d: %w", c[0], c[1], err)
		}
	}
	return nil
}

func (s *Store) collect(lineage, gen uint64, depth int) error {
	if depth > 64 {
		return fmt.Errorf("unpin lineage %d: parent chain too deep", lineage)
	}
	pins, err := s.pins(lineage)
	if err != nil {
		return err
	}
	s.mu.Lock()
	open := s.lineages[lineage]
	s.mu.Unlock()
	if open != nil {
		if err := open.refreshPins(); err != nil {
			return err
		}
	}
	if slices.Contains(pins, gen) {
		return s.collected(lineage, gen)
	}
	walk := gen
	if len(pins) == 0 {
		walk = HeadGen // no view needs the lineage: every entry goes
	}
	var frees []uint64
	err = s.db.WriteBatch(func(b *kv.Batch) error {
		return s.db.View(func(tx *kv.Txn) error {
			return s.unique(tx, lineage, walk, pins, func(k, ck []byte, slot uint64) error {
				if slot != 0 {
					frees = append(frees, slot)
				}
				if err := b.Delete(k); err != nil {
					return err
				}
				return b.Delete(ck)
			})
		})
	})
	if err != nil {
		return err
	}
	s.alloc.free(frees...)
	if len(pins) > 0 {
		return s.collected(lineage, gen)
	}
	return s.dropLineage(lineage, gen, depth)
}

// collected deletes a collect key whose work is done.
func (s *Store) collected(lineage, gen uint64) error {
	if err := s.db.Update(func(tx *kv.Txn) error { return tx.Delete(collectKey(lineage, gen)) }); err != nil {
		return err
	}
	return s.db.Sync()
}

// dropLineage deletes what is left of a lineage no one needs (its record)
// and, in the same transaction, its collect key and its pin on its parent's
// view; then it collects that view.
func (s *Store) dropLineage(lineage, gen uint64, depth int) error {
	var rec lineageRecord
	err := s.db.Update(func(tx *kv.Txn) error {
		var err error
		if rec, err = s.lineageRecord(tx, lineage); err != nil {
			return err
		}
		if err := tx.Delete(lineageKey(lineage)); err != nil {
			return err
		}
		if err := tx.Delete(collectKey(lineage, gen)); err != nil {
			return err
		}
		if rec.Parent != 0 {
			return s.UnpinInTx(tx, rec.Parent, rec.ParentGen, lineageHolder(lineage))
		}
		return nil
	})
	if err == nil {
		err = s.db.Sync()
	}
	if err != nil || rec.Parent == 0 {
		return err
	}
	return s.collect(rec.Parent, rec.ParentGen, depth+1)
}

// Collect keys: "g" | lineage | gen -> "": a view whose pin was dropped and
// whose blocks may still have to be freed.
const collectPrefix = 'g'

func collectKey(lineage, gen uint64) []byte {
	k := make([]byte, 17)
	k[0] = collectPrefix
	binary.BigEndian.PutUint64(k[1:], lineage)
	binary.BigEndian.PutUint64(k[9:], gen)
	return k
}

func parseCollectKey(k []byte) (lineage, gen uint64, ok bool) {
	if len(k) != 17 || k[0] != collectPrefix {
		return 0, 0, false
	}
	return binary.BigEndian.Uint64(k[1:]), binary.BigEndian.Uint64(k[9:]), true
}

// pins lists the distinct pinned generations of a lineage, ascending.
func (s *Store) pins(lineage uint64) ([]uint64, error) {
	var gens []uint64
	err := s.db.View(func(tx *kv.Txn) error {
		var err error
		gens, err = allPinnedGens(tx, lineage)
		return err
	})
	return gens, err
}

func allPinnedGens(tx *kv.Txn, lineage uint64) ([]uint64, error) {
	var gens []uint64
	err := tx.Scan(pinLineagePrefix(lineage), nil, func(k, _ []byte) error {
		if gen, _, ok := parsePinKey(k); ok && (len(gens) == 0 || gens[len(gens)-1] != gen) {
			gens = append(gens, gen)
		}
		return nil
	})
	return gens, err
}

// pinnedGens is allPinnedGens without the head's pin.
func pinnedGens(tx *kv.Txn, lineage uint64) ([]uint64, error) {
	gens, err := allPinnedGens(tx, lineage)
	return slices.DeleteFunc(gens, func(g uint64) bool { return g == HeadGen }), err
}

// unique calls fn for every map entry of lineage that the view at gen needs
// and no pinned generation does: an entry born in (p, gen], p the newest pin
// below gen, that is superseded by the first pin above gen (or any entry,
// when no pin is above).
func (s *Store) unique(tx *kv.Txn, lineage, gen uint64, pins []uint64, fn func(mapKey, changeKey []byte, slot uint64) error) error {
	var below, above uint64
	for _, p := range pins {
		if p < gen {
			below = p
		} else if p > gen && above == 0 {
			above = p
		}
	}
	start, stop := changeGenPrefix(lineage, below+1), changeGenPrefix(lineage, min(gen, maxBirth-1)+1)
	return tx.Scan([]byte{changePrefix}, start, func(ck, _ []byte) error {
		if bytes.Compare(ck, stop) >= 0 || !bytes.HasPrefix(ck, start[:9]) {
			return kv.ErrStop
		}
		birth, lba, ok := parseChangeKey(ck)
		if !ok {
			return nil
		}
		mk := mapKey(lineage, lba, birth)
		raw, err := tx.Get(mk)
		if err != nil {
			return nil // already gone
		}
		if above != 0 {
			newer, err := s.newestBirth(tx, lineage, lba, above)
			if err != nil || newer <= birth {
				return err // still visible at the pin above
			}
		}
		return fn(mk, append([]byte(nil), ck...), parseSlot(raw))
	})
}

// newestBirth is the birth of the newest entry of block lba born at or
// before gen (0 if none).
func (s *Store) newestBirth(tx *kv.Txn, lineage, lba, gen uint64) (uint64, error) {
	var birth uint64
	prefix := mapKey(lineage, lba, 0)[:17]
	err := tx.Scan(prefix, mapKey(lineage, lba, gen), func(k, _ []byte) error {
		_, _, birth, _ = parseMapKey(k)
		return kv.ErrStop
	})
	return birth, err
}

// UniqueBytes is the storage that only the view of lineage at gen holds:
// what deleting its pin would free (if it is the only pin at gen).
func (s *Store) UniqueBytes(lineage, gen uint64) (int64, error) {
	pins, err := s.pins(lineage)
	if err != nil {
		return 0, err
	}
	pins = slices.DeleteFunc(pins, func(p uint64) bool { return p == gen })
	var n int64
	err = s.db.View(func(tx *kv.Txn) error {
		return s.unique(tx, lineage, gen, pins, func(_, _ []byte, slot uint64) error {
			if slot != 0 {
				n += BlockSize
			}
			return nil
		})
	})
	return n, err
}

// PinInTx is Pin inside the caller's transaction on the store's database,
// so that a pin and the record that needs it are committed together.
func (s *Store) PinInTx(tx *kv.Txn, lineage, gen uint64, holder string) error {
	return tx.Set(pinKey(lineage, gen, holder), nil)
}

// Changed calls fn for every block of lineage written in generations
// (from, to], from the change index (a block written in several of them is
// reported once per generation).
func (s *Store) Changed(lineage, from, to uint64, fn func(lba uint64)) error {
	start, stop := changeGenPrefix(lineage, from+1), changeGenPrefix(lineage, to+1)
	return s.db.View(func(tx *kv.Txn) error {
		return tx.Scan([]byte{changePrefix}, start, func(ck, _ []byte) error {
			if bytes.Compare(ck, stop) >= 0 || !bytes.HasPrefix(ck, start[:9]) {
				return kv.ErrStop
			}
			if _, lba, ok := parseChangeKey(ck); ok {
				fn(lba)
			}
			return nil
		})
	})
}

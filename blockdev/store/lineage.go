package store

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/ebs-dev/ebs/internal/kv"
)

// mapRef names one map entry of a lineage.
type mapRef struct{ lba, birth uint64 }

// Lineage is the open head of a lineage: the blocks a volume reads and
// writes. Callers must not run two operations on the same block at once
// (the volume layer holds a lock per block); operations on different
// blocks may run concurrently.
type Lineage struct {
	s      *Store
	id     uint64
	blocks uint64

	hasParent bool         // reads through to a parent view
	io        sync.RWMutex // held shared by writes and discards, exclusively by Freeze

	mu      sync.Mutex
	pins    []uint64 // pinned generations of this lineage below the head, ascending
	gen     uint64
	head    *table
	pending map[mapRef]uint64 // map changes not yet committed: slot, or deleted
	frees   []uint64          // slots those changes free, reusable once they are durable

	impaired atomic.Pointer[error] // a sync failed: I/O and flushes fail from now on
}

// ErrImpaired is returned by writes and flushes of a lineage whose data a
// failed fdatasync may have lost (EBS: a volume with I/O disabled, status
// impaired). Reopening the lineage (detach and attach again) starts over
// from what is durable.
// It wraps EIO, the errno the mount gives for it.
var ErrImpaired = fmt.Errorf("I/O disabled: a data sync failed and written data may be lost: %w", syscall.EIO)

// lineageBatch is what a flush takes from a lineage: map changes and the
// slots they free.
type lineageBatch struct {
	changes map[mapRef]uint64
	frees   []uint64
}

// OpenLineage opens the head of lineage id, whose next writes belong to
// generation gen (>= 1), for a volume of the given number of blocks.
func (s *Store) OpenLineage(id, gen, blocks uint64) (*Lineage, error) {
	if gen < 1 || gen >= maxBirth {
		return nil, fmt.Errorf("open lineage %d: generation %d out of range", id, gen)
	}
	l := &Lineage{s: s, id: id, blocks: blocks, gen: gen, head: newTable(blocks), pending: map[mapRef]uint64{}}
	err := s.db.View(func(tx *kv.Txn) error {
		rec, err := s.lineageRecord(tx, id)
		if err != nil {
			return err
		}
		l.hasParent = rec.Parent != 0
		if l.pins, err = pinnedGens(tx, id); err != nil {
			return err
		}
		return s.loadView(tx, id, gen, blocks, l.head, 0)
	})
	if err != nil {
		return nil, fmt.Errorf("open lineage %d: %w", id, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.lineages[id]; dup {
		return nil, fmt.Errorf("open lineage %d: already open", id)
	}
	s.lineages[id] = l
	return l, nil
}

// Freeze takes a crash-consistent snapshot of the head: writes are held
// while everything written so far is made durable and persist(gen) records
// the snapshot at the current generation (and the volume's next one); then
// the head moves to the next generation, so that later writes to shared
// blocks go to new slots. It costs one flush, whatever the volume's size.
func (l *Lineage) Freeze(persist func(gen uint64) error) error {
	l.io.Lock()
	defer l.io.Unlock()
	if err := l.Flush(); err != nil {
		return err
	}
	l.mu.Lock()
	gen := l.gen
	l.mu.Unlock()
	if gen+1 >= maxBirth {
		return fmt.Errorf("lineage %d: too many snapshots", l.id)
	}
	if err := persist(gen); err != nil {
		return err
	}
	l.mu.Lock()
	l.gen = gen + 1
	l.pins = append(l.pins, gen)
	l.mu.Unlock()
	return nil
}

// owned reports whether no view but the head sees entry e, so that it can
// be overwritten in place and freed: it was born in the current generation,
// or no pinned generation since its birth is left (its snapshots are gone).
// Entries read through from a parent (birth 0) are never owned.
func (l *Lineage) owned(e entry) bool {
	if e.birth == l.gen {
		return true
	}
	if e.birth == 0 {
		return false
	}
	i, _ := slices.BinarySearch(l.pins, e.birth)
	return i == len(l.pins) || l.pins[i] >= l.gen
}

// refreshPins reloads the pinned generations after a pin was dropped. It
// holds the head's writes, as Freeze does, and reads the database after
// taking them, so that a snapshot being taken meanwhile is either already
// in what it reads or added to the list after.
func (l *Lineage) refreshPins() error {
	l.io.Lock()
	defer l.io.Unlock()
	var pins []uint64
	err := l.s.db.View(func(tx *kv.Txn) error {
		var err error
		pins, err = pinnedGens(tx, l.id)
		return err
	})
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.pins = pins
	l.mu.Unlock()
	return nil
}

// ID is the lineage's id.
func (l *Lineage) ID() uint64 { return l.id }

// Flush makes every block of the lineage written before the call durable,
// with its map entries (it shares one round with every other flush). It
// fails with ErrImpaired, for good, once a sync may have lost the lineage's
// data.
func (l *Lineage) Flush() error {
	if err := l.s.Flush(); err != nil {
		return err
	}
	return l.impairment()
}

// impair records that a sync may have lost the lineage's data.
func (l *Lineage) impair(cause error) {
	err := fmt.Errorf("lineage %d: %w (%w)", l.id, ErrImpaired, cause)
	l.impaired.CompareAndSwap(nil, &err)
}

// impairment is the lineage's ErrImpaired, or the store's failure, or nil.
func (l *Lineage) impairment() error {
	if err := l.impaired.Load(); err != nil {
		return *err
	}
	if err := l.s.failed.Load(); err != nil {
		return fmt.Errorf("lineage %d: %w (%w)", l.id, ErrImpaired, *err)
	}
	return nil
}

// Impaired is the error that disabled the lineage's I/O, or nil.
func (l *Lineage) Impaired() error { return l.impairment() }

// Close flushes the lineage's changes and forgets its head. Changes a
// failed flush could not make durable are dropped: the map never points at
// data that may not be on disk.
func (l *Lineage) Close() error {
	err := l.Flush()
	l.s.mu.Lock()
	delete(l.s.lineages, l.id)
	l.s.mu.Unlock()
	return err
}

// Blocks is the lineage's size in blocks.
func (l *Lineage) Blocks() uint64 { return l.blocks }

func (l *Lineage) checkRange(lba uint64, n int) error {
	if n < 0 || lba > l.blocks || uint64(n) > l.blocks-lba {
		return fmt.Errorf("blocks [%d, %d) outside a %d-block lineage", lba, lba+uint64(n), l.blocks)
	}
	return nil
}

// ReadBlocks reads len(dst)/BlockSize blocks from lba into dst. mapped[i]
// reports whether block i holds data; an unmapped block is zero-filled.
// An impaired lineage refuses reads too (EBS disables all I/O).
func (l *Lineage) ReadBlocks(lba uint64, dst []byte, mapped []bool) error {
	n := len(dst) / BlockSize
	if err := l.checkRange(lba, n); err != nil {
		return err
	}
	if err := l.impairment(); err != nil {
		return err
	}
	slots := make([]uint64, n)
	l.mu.Lock()
	for i := range slots {
		if e, ok := l.head.get(lba + uint64(i)); ok {
			slots[i] = e.slot
		}
	}
	l.mu.Unlock()
	for i := range slots {
		mapped[i] = slots[i] != 0
		if !mapped[i] {
			clear(dst[i*BlockSize : (i+1)*BlockSize])
		}
	}
	return forRuns(slots, func(i, j int) error {
		return l.s.ext.readRun(slots[i], dst[i*BlockSize:j*BlockSize])
	})
}

// forRuns calls fn for each maximal run [i, j) of consecutive non-zero
// slots in one extent.
func forRuns(slots []uint64, fn func(i, j int) error) error {
	for i := 0; i < len(slots); {
		if slots[i] == 0 {
			i++
			continue
		}
		j := i + 1
		for j < len(slots) && slots[j] == slots[j-1]+1 && (slots[j]-1)%slotsPerExtent != 0 {
			j++
		}
		if err := fn(i, j); err != nil {
			return err
		}
		i = j
	}
	return nil
}

// WriteBlocks writes len(src)/BlockSize blocks at lba: in place where the
// block's slot belongs to the current generation, to new slots elsewhere.
func (l *Lineage) WriteBlocks(lba uint64, src []byte) error {
	n := len(src) / BlockSize
	if err := l.checkRange(lba, n); err != nil {
		return err
	}
	if err := l.impairment(); err != nil {
		return err
	}
	l.io.RLock()
	defer l.io.RUnlock()
	slots := make([]uint64, n)
	var fresh []int
	l.mu.Lock()
	gen := l.gen
	for i := range slots {
		if e, ok := l.head.get(lba + uint64(i)); ok && e.slot != 0 && l.owned(e) {
			slots[i] = e.slot
		} else {
			fresh = append(fresh, i)
		}
	}
	l.mu.Unlock()
	newSlots, err := l.s.allocate(len(fresh))
	if err != nil {
		return err
	}
	for k, i := range fresh {
		slots[i] = newSlots[k]
	}
	inPlace := len(fresh) == 0
	err = forRuns(slots, func(i, j int) error {
		return l.s.ext.writeRun(l.id, slots[i], src[i*BlockSize:j*BlockSize], inPlace)
	})
	if err != nil {
		// The slots may hold part of the data, in place or fresh: the block
		// is now neither old nor new, as after a failed sync.
		l.s.alloc.release(newSlots)
		l.impair(err)
		return err
	}
	l.mu.Lock()
	for k, i := range fresh {
		e := entry{slot: newSlots[k], birth: gen}
		l.head.set(lba+uint64(i), e)
		l.pending[mapRef{lba + uint64(i), gen}] = e.slot
	}
	l.mu.Unlock()
	return nil
}

// allocate takes n slots with disk space behind them.
func (s *Store) allocate(n int) ([]uint64, error) {
	if n == 0 {
		return nil, nil
	}
	slots := s.alloc.alloc(make([]uint64, 0, n), n)
	for _, slot := range slots {
		if slot > maxSlot {
			s.alloc.release(slots)
			return nil, fmt.Errorf("%w: the slot space is exhausted", ErrNoSpace)
		}
	}
	for i := 0; i < len(slots); {
		j := i + 1
		for j < len(slots) && slots[j] == slots[j-1]+1 {
			j++
		}
		if err := s.ext.ensure(slots[i], j-i); err != nil {
			s.alloc.release(slots)
			if errors.Is(err, syscall.ENOSPC) {
				return nil, fmt.Errorf("%w: %w", ErrNoSpace, err)
			}
			return nil, err
		}
		i = j
	}
	return slots, nil
}

// Discard unmaps n blocks at lba: they read as zeros afterwards, and slots
// no snapshot shares are freed.
func (l *Lineage) Discard(lba uint64, n int) error {
	if err := l.checkRange(lba, n); err != nil {
		return err
	}
	if err := l.impairment(); err != nil {
		return err
	}
	l.io.RLock()
	defer l.io.RUnlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	gen := l.gen
	history := gen > 1 || l.hasParent // older generations or a parent may hold this block
	for i := uint64(0); i < uint64(n); i++ {
		e, ok := l.head.get(lba + i)
		switch {
		case !ok:
			continue
		case l.owned(e):
			if e.slot != 0 {
				l.frees = append(l.frees, e.slot)
			}
			if e.birth != gen {
				l.pending[mapRef{lba + i, e.birth}] = deleted
			}
			if history {
				l.head.set(lba+i, entry{birth: gen})
				l.pending[mapRef{lba + i, gen}] = 0
			} else {
				l.head.remove(lba + i)
				l.pending[mapRef{lba + i, gen}] = deleted
			}
		case e.slot != 0: // shared with a snapshot: hide it
			l.head.set(lba+i, entry{birth: gen})
			l.pending[mapRef{lba + i, gen}] = 0
		}
	}
	return nil
}

// MappedBlocks counts the blocks of the head that hold data.
func (l *Lineage) MappedBlocks() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var n uint64
	l.head.each(func(_ uint64, e entry) {
		if e.slot != 0 {
			n++
		}
	})
	return n
}

// takePending takes the map changes and frees made so far.
func (l *Lineage) takePending() lineageBatch {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := lineageBatch{changes: l.pending, frees: l.frees}
	l.pending, l.frees = make(map[mapRef]uint64, len(b.changes)), nil
	return b
}

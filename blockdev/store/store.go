package store

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ebs-dev/ebs/internal/clock"
	"github.com/ebs-dev/ebs/internal/groupcommit"
	"github.com/ebs-dev/ebs/internal/kv"
)

// ErrNoSpace is returned when the disk under the data dir is full.
var ErrNoSpace = errors.New("no space left for new blocks")

// Options configure Open.
type Options struct {
	Logger *slog.Logger
	// FlushInterval is how often map changes, and the data they point to,
	// are made durable in the background when there are any; default 5 s,
	// negative: never (only on Flush).
	FlushInterval time.Duration
	// Fdatasync, when set, replaces fdatasync(2) of the extent files: fault
	// injection for tests.
	Fdatasync func(f *os.File) error
}

// Store is the block store of one data dir.
type Store struct {
	db    *kv.DB
	ext   *extents
	alloc allocator
	log   *slog.Logger

	mu       sync.Mutex
	lineages map[uint64]*Lineage // open heads

	idMu        sync.Mutex
	lastLineage uint64     // the last lineage id handed out
	gcMu        sync.Mutex // one unpin (and its frees) at a time

	flush   groupcommit.Group
	failed  atomic.Pointer[error] // a block map commit failed: nothing is acknowledged any more
	reclaim sync.WaitGroup        // freed slots being punched out, then released
	stop    chan struct{}
	done    chan struct{}
}

// Open opens the store: extent files under dir, the block map in db. It
// scans the map once to learn which slots are in use.
func Open(dir string, db *kv.DB, o Options) (*Store, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.FlushInterval == 0 {
		o.FlushInterval = 5 * time.Second
	}
	ext, err := openExtents(filepath.Join(dir, "extents"))
	if err != nil {
		return nil, err
	}
	if o.Fdatasync != nil {
		ext.fdatasync = o.Fdatasync
	}
	s := &Store{db: db, ext: ext, log: o.Logger, lineages: map[uint64]*Lineage{},
		stop: make(chan struct{}), done: make(chan struct{})}
	if err := errors.Join(s.loadLastLineage(), s.loadAllocator()); err != nil {
		ext.close()
		return nil, err
	}
	go s.flushLoop(o.FlushInterval)
	return s, nil
}

func (s *Store) loadAllocator() error {
	start := time.Now()
	n := 0
	err := s.db.View(func(tx *kv.Txn) error {
		return tx.Scan([]byte{mapPrefix}, nil, func(k, v []byte) error {
			if lineage, _, _, ok := parseMapKey(k); ok {
				s.lastLineage = max(s.lastLineage, lineage)
			}
			if slot := parseSlot(v); slot != 0 {
				s.alloc.mark(slot)
				n++
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("load block map: %w", err)
	}
	s.log.Debug("block map loaded", "mapped_slots", n, "took", time.Since(start))
	return nil
}

// Close flushes everything and closes the extent files. Lineages must be
// closed first.
func (s *Store) Close() error {
	close(s.stop)
	<-s.done
	err := s.Flush()
	s.reclaim.Wait()
	return errors.Join(err, s.ext.close())
}

// UsedBlocks is the number of slots holding data, once the slots being
// reclaimed are free.
func (s *Store) UsedBlocks() uint64 {
	s.reclaim.Wait()
	return s.alloc.count()
}

// flushLoop commits map changes in the background, so that they do not pile
// up in memory between fsyncs. It leaves data alone when there is no map
// change: in-place overwrites that nobody fsynced are written back by the
// kernel like any file's, and an fdatasync here would write-protect every
// page it cleans in the extent mappings, making the next write to each
// fault (mapped.go).
func (s *Store) flushLoop(every time.Duration) {
	defer close(s.done)
	clock.Every(s.stop, every, func() {
		if !s.mapChanged() {
			return
		}
		if err := s.Flush(); err != nil {
			s.log.Error("background flush", "err", err)
		}
	})
}

// openLineages lists the lineages open now.
func (s *Store) openLineages() []*Lineage {
	s.mu.Lock()
	defer s.mu.Unlock()
	open := make([]*Lineage, 0, len(s.lineages))
	for _, l := range s.lineages {
		open = append(open, l)
	}
	return open
}

// mapChanged says whether a lineage has map changes not yet committed or
// slots were freed since the last flush.
func (s *Store) mapChanged() bool {
	if s.alloc.hasPending() {
		return true
	}
	for _, l := range s.openLineages() {
		l.mu.Lock()
		n := len(l.pending) + len(l.frees)
		l.mu.Unlock()
		if n > 0 {
			return true
		}
	}
	return false
}

// Flush makes every block written and every map change made before the
// call durable: fdatasync the extents, commit the map, sync badger.
// Concurrent calls share one round (group commit). It fails if the store
// has failed; a lineage whose data a failed fdatasync may have lost is
// impaired instead (see Lineage.Flush), and the others go on.
func (s *Store) Flush() error {
	return s.flush.Do(s.flushOnce)
}

// flushOnce is one round. The order makes it cover every write that
// completed before it began: first take the map changes and the frees
// (each was made after the write it maps completed), then sync the extents
// (which covers every write counted so far), then commit the map changes of
// the lineages whose data is durable, then sync badger.
func (s *Store) flushOnce() error {
	if err := s.failure(); err != nil {
		return err
	}
	frees := s.alloc.takePending()
	open := s.openLineages()
	batches := make([]lineageBatch, len(open))
	for i, l := range open {
		batches[i] = l.takePending()
	}
	if fail := s.ext.sync(); fail != nil {
		s.log.Error("extent data sync failed: volumes that wrote to it are impaired until detached and attached again",
			"err", fail.err, "lineages", len(fail.lineages))
		for _, l := range open {
			if fail.lineages[l.id] {
				l.impair(fail.err)
			}
		}
	}
	changes := 0
	for i, l := range open {
		if l.impairment() != nil {
			// Never commit a map entry over data that may not be durable;
			// the slots stay allocated until the next start rescans the map.
			batches[i] = lineageBatch{}
		}
		changes += len(batches[i].changes) + len(batches[i].frees)
	}
	if changes == 0 && len(frees) == 0 {
		return nil // only in-place overwrites: the fdatasync above made them durable
	}
	err := s.commitBatches(open, batches)
	if err != nil {
		// What badger made durable is unknown, and a retried sync cannot
		// be trusted: nothing more is acknowledged until a restart.
		err = fmt.Errorf("commit block map: %w", err)
		s.fail(err)
		return err
	}
	for _, b := range batches {
		frees = append(frees, b.frees...)
	}
	if len(frees) > 0 {
		s.reclaim.Add(1)
		go func() { // hole punching can take long: no fsync waits for it
			defer s.reclaim.Done()
			s.ext.punchAll(frees, s.log)
			s.alloc.release(frees)
		}()
	}
	return nil
}

// commitBatches writes the map changes durably: every new entry before any
// deletion, so that a crash in the middle of a batch too large for one
// transaction never leaves a block without its newest entry.
func (s *Store) commitBatches(open []*Lineage, batches []lineageBatch) error {
	for _, dels := range []bool{false, true} {
		err := s.db.WriteBatch(func(b *kv.Batch) error {
			for i, l := range open {
				if err := writePending(b, l.id, batches[i].changes, dels); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return s.db.Sync()
}

// fail makes the store refuse every later flush and write.
func (s *Store) fail(err error) {
	if s.failed.CompareAndSwap(nil, &err) {
		s.log.Error("block store failed: nothing more is made durable until the daemon restarts", "err", err)
	}
}

func (s *Store) failure() error {
	if err := s.failed.Load(); err != nil {
		return *err
	}
	return nil
}

// deleted marks a map entry to remove in a pending batch.
const deleted = ^uint64(0)

// writePending adds a lineage's pending changes to b: the deletions when
// dels, else the new entries.
func writePending(b *kv.Batch, lineage uint64, p map[mapRef]uint64, dels bool) error {
	for ref, slot := range p {
		if (slot == deleted) != dels {
			continue
		}
		key, ck := mapKey(lineage, ref.lba, ref.birth), changeKey(lineage, ref.birth, ref.lba)
		var err error
		if dels {
			err = errors.Join(b.Delete(key), b.Delete(ck))
		} else {
			err = errors.Join(b.Set(key, slotValue(slot)), b.Set(ck, nil))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

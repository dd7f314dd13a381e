package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ebs-dev/ebs/internal/kv"
	"golang.org/x/sys/unix"
)

// dirtyPages counts the pages of the extent files that the page cache holds
// dirty, with cachestat(2). It skips the test on kernels without it.
func dirtyPages(t testing.TB, dir string) uint64 {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "blocks", "extents", "extent-*"))
	if err != nil {
		t.Fatal(err)
	}
	var dirty uint64
	for _, name := range names {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		var cs unix.Cachestat_t
		err = unix.Cachestat(uint(f.Fd()), &unix.CachestatRange{}, &cs, 0)
		f.Close()
		if err == unix.ENOSYS {
			t.Skip("cachestat(2) needs Linux 6.5 or later")
		}
		if err != nil {
			t.Fatalf("cachestat %s: %v", name, err)
		}
		dirty += cs.Dirty
	}
	return dirty
}

// TestFlushCoversWritesInFlightDuringAnotherFlush: while writers write (to
// fresh slots and in place), other flushes run all the time, as the
// background flush, another volume's fsync or a snapshot do. Once the
// writers have returned, one Flush of the lineage must leave no page of the
// extents dirty: a flush that ran while a write was in flight must not make
// a later flush believe that write is already durable.
func TestFlushCoversWritesInFlightDuringAnotherFlush(t *testing.T) {
	ts := newTestStore(t)
	l := newHead(t, ts.s, testBlocks)
	for round := range 20 {
		var stop atomic.Bool
		var flushes sync.WaitGroup
		var flushed atomic.Int64
		flushes.Add(1)
		go func() { // the other flushes
			defer flushes.Done()
			for ; !stop.Load(); flushed.Add(1) {
				if err := ts.s.Flush(); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		for flushed.Load() == 0 {
			runtime.Gosched()
		}
		var writers sync.WaitGroup
		for w := range 4 {
			writers.Add(1)
			go func() {
				defer writers.Done()
				for i := range 64 {
					lba := uint64(w*64+i+round%8*256) % testBlocks
					if err := l.WriteBlocks(lba, pattern(uint64(round*1000+i+1), lba)); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		writers.Wait()
		stop.Store(true)
		flushes.Wait()
		// The application's fsync, after its writes returned.
		must(t, ts.s.Flush())
		if n := dirtyPages(t, ts.dir); n != 0 {
			t.Fatalf("round %d: %d extent pages still dirty after the flush returned", round, n)
		}
	}
}

// TestLineageIDsAreUnique: lineages made concurrently (volumes created,
// snapshots copied, uploads started at once) each get an id of their own,
// also across a restart.
func TestLineageIDsAreUnique(t *testing.T) {
	ts := newTestStore(t)
	var mu sync.Mutex
	seen := map[uint64]bool{}
	add := func(id uint64) {
		mu.Lock()
		defer mu.Unlock()
		if seen[id] {
			t.Errorf("lineage id %d handed out twice", id)
		}
		seen[id] = true
	}
	for pass := range 2 {
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 50 {
					id, err := ts.s.NewLineage(0, 0)
					if err != nil {
						t.Error(err)
						return
					}
					add(id)
				}
			}()
		}
		wg.Wait()
		if pass == 0 {
			ts.reopen()
		}
	}
	if len(seen) != 400 {
		t.Errorf("%d distinct ids for 400 lineages", len(seen))
	}
	_ = fmt.Sprint
}

// TestFlushAfterAWriteInFlightDuringAFlush is the race of
// TestFlushCoversWritesInFlightDuringAnotherFlush made certain: a write is
// held after it started and before its data is copied while another flush
// runs to the end; once the write returns, the lineage's flush must
// fdatasync its extent. For a fresh slot, an in-place overwrite by pwrite
// (right after a sync) and one through the mapping.
func TestFlushAfterAWriteInFlightDuringAFlush(t *testing.T) {
	for _, tc := range []struct {
		name  string
		prior bool          // the block holds durable data already
		quiet time.Duration // wait before the overwrite (past syncQuiet: through the map)
	}{{"fresh", false, 0}, {"in place by pwrite", true, 0}, {"in place through the map", true, syncQuiet + 10*time.Millisecond}} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestStore(t)
			l := newHead(t, ts.s, testBlocks)
			if tc.prior {
				writeBlock(t, l, 7, pattern(1, 7))
				must(t, l.Flush())
				time.Sleep(tc.quiet)
			}
			started, proceed := make(chan struct{}), make(chan struct{})
			ts.s.ext.beforeWrite = func(uint64) {
				ts.s.ext.beforeWrite = nil
				close(started)
				<-proceed
			}
			wrote := make(chan error)
			go func() { wrote <- l.WriteBlocks(7, pattern(2, 7)) }()
			<-started
			must(t, ts.s.Flush()) // another volume's fsync, a snapshot, the background flush
			close(proceed)
			must(t, <-wrote)
			must(t, l.Flush())
			if n := dirtyPages(t, ts.dir); n != 0 {
				t.Fatalf("%d extent pages dirty after the flush returned", n)
			}
		})
	}
}

// faultySync makes the extents' fdatasync fail with EIO while failing is set.
func faultySync(ts *testStore, failing *atomic.Bool) {
	ts.s.ext.fdatasync = func(f *os.File) error {
		if failing.Load() {
			return unix.EIO
		}
		return fdatasync(f)
	}
}

// TestFailedSyncImpairsTheLineagesItCovered: an fdatasync fails with EIO.
// The lineage whose writes it covered gets the error from its flush, and
// again from every later flush and write (a retried fdatasync would
// "succeed" with the data lost); its map never points at the blocks that
// sync may have lost. A lineage with nothing to sync then goes on. After a
// restart the impaired lineage reads what was durable before.
func TestFailedSyncImpairsTheLineagesItCovered(t *testing.T) {
	ts := newTestStore(t)
	a := newHead(t, ts.s, testBlocks)
	b := newHead(t, ts.s, testBlocks)
	writeBlock(t, a, 1, pattern(1, 1))
	writeBlock(t, b, 1, pattern(1, 1))
	must(t, ts.s.Flush())
	var failing atomic.Bool
	faultySync(ts, &failing)

	writeBlock(t, a, 1, pattern(2, 1)) // in place
	writeBlock(t, a, 2, pattern(2, 2)) // fresh slot
	failing.Store(true)
	if err := a.Flush(); !errors.Is(err, ErrImpaired) {
		t.Fatalf("flush over a failed fdatasync: %v, want ErrImpaired", err)
	}
	failing.Store(false)
	if err := a.Flush(); !errors.Is(err, ErrImpaired) {
		t.Fatalf("the next flush, with fdatasync working again: %v, want ErrImpaired", err)
	}
	if err := a.WriteBlocks(3, pattern(3, 3)); !errors.Is(err, ErrImpaired) {
		t.Fatalf("write to an impaired lineage: %v, want ErrImpaired", err)
	}
	if err := a.Discard(1, 1); !errors.Is(err, ErrImpaired) {
		t.Fatalf("discard on an impaired lineage: %v, want ErrImpaired", err)
	}
	if a.Impaired() == nil || b.Impaired() != nil {
		t.Fatalf("impaired: a %v, b %v; want a only", a.Impaired(), b.Impaired())
	}
	writeBlock(t, b, 2, pattern(2, 2))
	must(t, b.Flush())
	if err := a.Close(); !errors.Is(err, ErrImpaired) {
		t.Errorf("close of an impaired lineage: %v, want ErrImpaired", err)
	}
	must(t, b.Close())
	if ts.keysWithPrefix(mapPrefix) != 3 { // a: block 1; b: blocks 1 and 2
		t.Errorf("%d map entries, want 3: none for a's writes after the failed sync", ts.keysWithPrefix(mapPrefix))
	}
	ts.reopen()
	a, err := ts.s.OpenLineage(a.ID(), 1, testBlocks)
	must(t, err)
	wantBlocks(t, "a reopened", a, map[uint64][]byte{1: pattern(2, 1)}, 1, 2, 3) // in place: the page cache kept it
	must(t, a.Close())
}

// TestFailedWriteImpairs: a pwrite that fails leaves the block neither old
// nor new, so the lineage is impaired as after a failed sync.
func TestFailedWriteImpairs(t *testing.T) {
	ts := newTestStore(t)
	l := newHead(t, ts.s, testBlocks)
	ts.s.ext.pwrite = func(*os.File, []byte, int64) (int, error) { return 0, unix.EIO }
	if err := l.WriteBlocks(1, pattern(1, 1)); !errors.Is(err, unix.EIO) {
		t.Fatalf("write: %v, want EIO", err)
	}
	if err := l.Flush(); !errors.Is(err, ErrImpaired) {
		t.Fatalf("flush after a failed write: %v, want ErrImpaired", err)
	}
	if used := ts.s.UsedBlocks(); used != 0 {
		t.Errorf("%d slots in use after a failed write to a fresh slot", used)
	}
}

// TestNewLineageInTxGoesWithItsRecord: a lineage made in a transaction that
// is not committed (the record that would hold it failed, or a crash came
// first) leaves nothing behind, and its id is never handed out again.
func TestNewLineageInTxGoesWithItsRecord(t *testing.T) {
	ts := newTestStore(t)
	parent, err := ts.s.NewLineage(0, 0)
	must(t, err)
	lineagesBefore, pinsBefore := ts.keysWithPrefix(lineageRecPrefix), ts.keysWithPrefix(pinPrefix)
	var lost uint64
	boom := errors.New("the record could not be saved")
	err = ts.db.Update(func(tx *kv.Txn) error {
		if lost, err = ts.s.NewLineageInTx(tx, parent, 1); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if l, p := ts.keysWithPrefix(lineageRecPrefix), ts.keysWithPrefix(pinPrefix); l != lineagesBefore || p != pinsBefore {
		t.Errorf("a lineage made in a failed transaction left %d lineage records and %d pins (before: %d, %d)", l, p, lineagesBefore, pinsBefore)
	}
	ts.reopen()
	next, err := ts.s.NewLineage(0, 0)
	must(t, err)
	if next <= lost {
		t.Errorf("lineage id %d handed out after %d was reserved", next, lost)
	}
}

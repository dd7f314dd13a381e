// Package kv is the daemon's metadata store: a thin layer over badger with
// the options measured for this workload (small values, no compression, no
// block cache, small memtables). It is the only package that imports badger.
package kv

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"

	"github.com/ebs-dev/ebs/internal/durable"
)

// ErrNotFound is returned by Get for a missing key.
var ErrNotFound = errors.New("kv: key not found")

// Options configure Open.
type Options struct {
	// SyncWrites makes every committed transaction durable before Update
	// returns (for rare, precious writes such as KMS keys). Without it,
	// call Sync to make what was committed durable.
	SyncWrites bool
	Logger     *slog.Logger
}

// DB is an open store.
type DB struct {
	db  *badger.DB
	dir *dirSyncer
}

// Open opens (creating if needed) the store in dir.
//
// The options bound badger's memory (the daemon opens two stores, the block
// map and the KMS, and targets a peak RSS under 512 MiB; see
// cmd/ebs/memlimit.go): 8 MiB memtables, at most two waiting to be flushed
// (each skiplist arena is about 1.3x the memtable size, on the Go heap);
// no block cache and no index cache (blocks are neither compressed nor
// encrypted, so badger reads them and their indexes from the mmapped
// tables, and the index cache is only used for encrypted tables); values
// over 1 KiB in 64 MiB value-log files; two compactors, the minimum badger
// advises (one for L0), instead of four, each of which holds a table
// builder's buffers while it runs.
func Open(dir string, o Options) (*DB, error) {
	opts := badger.DefaultOptions(dir).
		WithSyncWrites(o.SyncWrites).
		WithCompression(options.None).
		WithBlockCacheSize(0).
		WithIndexCacheSize(0).
		WithNumCompactors(2).
		WithNumVersionsToKeep(1).
		WithMemTableSize(8 << 20).
		WithValueThreshold(1 << 10).
		WithValueLogFileSize(64 << 20).
		WithNumMemtables(2).
		WithNumLevelZeroTables(2).
		WithNumLevelZeroTablesStall(8).
		WithDetectConflicts(false).
		WithLogger(newLogger(o.Logger))
	if err := durable.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	db, err := badger.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	d := &DB{db: db, dir: newDirSyncer(dir, o.Logger)}
	if err := d.dir.sync(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	go d.dir.loop()
	return d, nil
}

// Close flushes and closes the store.
func (d *DB) Close() error {
	err := d.db.Close()
	return errors.Join(err, d.dir.stop())
}

// Sync makes every committed transaction durable, and the names of
// badger's files with it.
func (d *DB) Sync() error {
	return errors.Join(d.db.Sync(), d.dir.sync())
}

// dirSyncer fsyncs badger's directory whenever its entries changed. badger
// (v4.9.6) fsyncs its directory after a compaction, but not after it creates
// the table of a memtable flush, a value log file or DISCARD: a power cut
// could keep the MANIFEST that names a table and lose the table's name, and
// badger would then refuse to open ("file does not exist for table N"). On
// ext4 and XFS the file's own fsync commits its name too; on a file system
// that keeps POSIX's rule to the letter the window is at most dirSyncEvery
// (and none for what Sync covers).
type dirSyncer struct {
	path string
	log  *slog.Logger
	mu   sync.Mutex
	last string // the directory's entries when it was last synced
	done chan struct{}
	quit chan struct{}
}

const dirSyncEvery = time.Second

func newDirSyncer(path string, log *slog.Logger) *dirSyncer {
	if log == nil {
		log = slog.Default()
	}
	return &dirSyncer{path: path, log: log, done: make(chan struct{}), quit: make(chan struct{})}
}

// sync fsyncs the directory if its entries changed since the last sync
// (compared by name: an mtime can stay the same across two changes).
func (s *dirSyncer) sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := os.Open(s.path)
	if err != nil {
		return fmt.Errorf("kv: %w", err)
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return fmt.Errorf("kv: %w", err)
	}
	slices.Sort(names)
	entries := strings.Join(names, "/") // "/" is in no name
	if entries == s.last {
		return nil
	}
	if err := durable.SyncDir(s.path); err != nil {
		return fmt.Errorf("kv: %w", err)
	}
	s.last = entries
	return nil
}

func (s *dirSyncer) loop() {
	defer close(s.done)
	t := time.NewTicker(dirSyncEvery)
	defer t.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-t.C:
			if err := s.sync(); err != nil {
				s.log.Error("sync store directory", "dir", s.path, "err", err)
			}
		}
	}
}

// stop ends the loop and syncs what the close changed.
func (s *dirSyncer) stop() error {
	close(s.quit)
	<-s.done
	return s.sync()
}

// Get returns a copy of the value of key, or ErrNotFound.
func (d *DB) Get(key []byte) ([]byte, error) {
	var out []byte
	err := d.View(func(tx *Txn) error {
		v, err := tx.Get(key)
		out = v
		return err
	})
	return out, err
}

// View runs fn in a read-only transaction.
func (d *DB) View(fn func(tx *Txn) error) error {
	return d.db.View(func(t *badger.Txn) error { return fn(&Txn{t: t}) })
}

// Update runs fn in a read-write transaction and commits it if fn returns nil.
func (d *DB) Update(fn func(tx *Txn) error) error {
	return d.db.Update(func(t *badger.Txn) error { return fn(&Txn{t: t}) })
}

// Txn is a transaction.
type Txn struct {
	t *badger.Txn
}

// Get returns a copy of the value of key, or ErrNotFound.
func (tx *Txn) Get(key []byte) ([]byte, error) {
	item, err := tx.t.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("kv get: %w", err)
	}
	return item.ValueCopy(nil)
}

// Set stores value under key.
func (tx *Txn) Set(key, value []byte) error {
	if err := tx.t.Set(key, value); err != nil {
		return fmt.Errorf("kv set: %w", err)
	}
	return nil
}

// Delete removes key.
func (tx *Txn) Delete(key []byte) error {
	if err := tx.t.Delete(key); err != nil {
		return fmt.Errorf("kv delete: %w", err)
	}
	return nil
}

// Scan calls fn for every key with the prefix, in key order, starting at the
// first key >= start (or the prefix when start is nil). fn may stop the scan
// by returning ErrStop. The slices passed to fn are only valid during the call.
func (tx *Txn) Scan(prefix, start []byte, fn func(key, value []byte) error) error {
	// No prefetching: the values here are small and stored in the LSM tree
	// beside their keys, so prefetching only adds work per item (measured with
	// BenchmarkOpenView in blockdev/store: loading 4096 map entries took
	// 7.2 ms with prefetching, 1.6 ms without).
	it := tx.t.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: false})
	defer it.Close()
	if start == nil {
		start = prefix
	}
	for it.Seek(start); it.ValidForPrefix(prefix); it.Next() {
		item := it.Item()
		v, err := item.ValueCopy(nil)
		if err != nil {
			return fmt.Errorf("kv scan: %w", err)
		}
		if err := fn(item.Key(), v); err != nil {
			if errors.Is(err, ErrStop) {
				return nil
			}
			return err
		}
	}
	return nil
}

// ErrStop ends a Scan early without an error.
var ErrStop = errors.New("kv: stop scan")

// logger adapts badger's logger to slog, keeping only warnings and errors.
type logger struct{ l *slog.Logger }

func newLogger(l *slog.Logger) badger.Logger {
	if l == nil {
		l = slog.Default()
	}
	return logger{l.With("component", "badger")}
}

func (g logger) Errorf(f string, a ...any)   { g.l.Error(fmt.Sprintf(f, a...)) }
func (g logger) Warningf(f string, a ...any) { g.l.Warn(fmt.Sprintf(f, a...)) }
func (g logger) Infof(string, ...any)        {}
func (g logger) Debugf(string, ...any)       {}

// Batch applies many writes without one transaction's size limit: the
// writes are split into as many transactions as needed, so a crash may
// leave a prefix of them applied. Use it for idempotent writes.
type Batch struct {
	wb *badger.WriteBatch
}

// WriteBatch runs fn with a Batch and flushes it.
func (d *DB) WriteBatch(fn func(b *Batch) error) error {
	wb := d.db.NewWriteBatch()
	defer wb.Cancel()
	if err := fn(&Batch{wb: wb}); err != nil {
		return err
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("kv batch: %w", err)
	}
	return nil
}

// Set stores value under key.
func (b *Batch) Set(key, value []byte) error {
	if err := b.wb.Set(key, value); err != nil {
		return fmt.Errorf("kv batch set: %w", err)
	}
	return nil
}

// Delete removes key.
func (b *Batch) Delete(key []byte) error {
	if err := b.wb.Delete(key); err != nil {
		return fmt.Errorf("kv batch delete: %w", err)
	}
	return nil
}

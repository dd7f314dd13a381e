package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ebs-dev/ebs/internal/durable"
	"github.com/ebs-dev/ebs/internal/groupcommit"
)

// ErrClosed is returned by calls on a closed Trail.
var ErrClosed = errors.New("audit: trail closed")

const (
	defaultChunk = 64 << 10 // bytes read per step when scanning
	maxSpareBuf  = 1 << 20  // largest batch buffer kept for the next batch
)

// Trail is an open audit trail file. It is safe for concurrent use.
// Lock order: reading, then mu (see the package documentation).
type Trail struct {
	path  string
	chunk int                                 // scan step; tests shrink it
	now   func() time.Time                    // default EventTime
	sync  func(*os.File) error                // tests slow it down or make it fail
	write func(*os.File, []byte) (int, error) // tests make it tear
	syncs atomic.Int64                        // syncs done, for tests and benchmarks

	group groupcommit.Group // one round at a time writes and syncs the queued lines

	mu      sync.Mutex
	queued  *batch // lines waiting for the next round; nil if none
	spare   []byte // the last written batch's buffer, for reuse
	size    int64  // file bytes in complete, synced lines
	closed  bool
	appends sync.WaitGroup // Appends that queued lines, for Close

	// broken is set when a write or sync failed: the file's tail is unknown
	// until the next round reopens the file and cuts it back to size. Only
	// rounds touch it, and they run one at a time.
	broken bool

	reading sync.RWMutex // held shared to read f, exclusively to swap or close it
	f       *os.File     // opened O_APPEND
}

// batch is the lines one round writes, and that round's result.
type batch struct {
	buf  []byte
	done bool
	err  error
}

// Options configure OpenWith.
type Options struct {
	// Sync makes a file's contents durable; nil means (*os.File).Sync. Tests
	// of the trail's users inject failures with it.
	Sync func(*os.File) error
}

// Open opens the trail at path, creating the file (0600) and its directory
// (0700) if missing. A torn last line left by a crash is truncated away.
func Open(path string) (*Trail, error) { return OpenWith(path, Options{}) }

// OpenWith is Open with options.
func OpenWith(path string, o Options) (*Trail, error) {
	if o.Sync == nil {
		o.Sync = (*os.File).Sync
	}
	dir := filepath.Dir(path)
	if err := durable.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("audit: create trail directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: open trail: %w", err)
	}
	size, err := repairTail(f)
	if err == nil {
		err = durable.SyncDir(dir) // make a newly created file's name durable too
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("audit: open trail %s: %w", path, err)
	}
	return &Trail{
		f:     f,
		path:  path,
		chunk: defaultChunk,
		now:   time.Now,
		sync:  o.Sync,
		write: (*os.File).Write,
		size:  size,
	}, nil
}

// repairTail truncates the bytes after the last newline, which only a torn
// write can leave, and returns the resulting size.
func repairTail(f *os.File) (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := fi.Size()
	end, err := afterLastNewline(f, size, defaultChunk)
	if err != nil || end == size {
		return size, err
	}
	if err := f.Truncate(end); err != nil {
		return 0, err
	}
	return end, f.Sync()
}

// afterLastNewline returns the offset just past the last '\n' in r[0:size),
// or 0 if there is none.
func afterLastNewline(r io.ReaderAt, size int64, chunk int) (int64, error) {
	buf := make([]byte, chunk)
	for end := size; end > 0; {
		start := max(end-int64(chunk), 0)
		b := buf[:end-start]
		if _, err := r.ReadAt(b, start); err != nil {
			return 0, err
		}
		for i := len(b) - 1; i >= 0; i-- {
			if b[i] == '\n' {
				return start + int64(i) + 1, nil
			}
		}
		end = start
	}
	return 0, nil
}

// Append records rs durably: it returns nil only once every line is written
// and synced. The lines of one Append go to the file in one write, next to
// each other. Before encoding, it fills each record's empty fields in place
// (see [Record.FillDefaults]).
//
// An error means the lines are not durable: the next round reopens the file
// and cuts it back to its last synced line before it writes, so a failed
// write or sync does not fail later Appends once the disk works again.
func (t *Trail) Append(rs ...*Record) error {
	var lines []byte
	for _, r := range rs {
		if r == nil {
			return errors.New("audit: nil record")
		}
		r.FillDefaults(t.now())
		line, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("audit: encode record: %w", err)
		}
		if lines == nil {
			lines = append(line, '\n') // one record: no copy
		} else {
			lines = append(append(lines, line...), '\n')
		}
	}
	if len(lines) == 0 {
		return nil
	}
	b, err := t.queue(lines)
	if err != nil {
		return err
	}
	defer t.appends.Done()
	// The round that covers this call has written b, or an earlier one
	// that took b from the queue had: b's result is the one that counts.
	_ = t.group.Do(t.commit)
	t.mu.Lock()
	defer t.mu.Unlock()
	if !b.done {
		return errors.New("audit: internal error: a batch was not written")
	}
	return b.err
}

// queue adds lines to the batch the next round writes.
func (t *Trail) queue(lines []byte) (*batch, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, ErrClosed
	}
	if t.queued == nil {
		t.queued = &batch{buf: t.spare[:0]}
		t.spare = nil
	}
	t.queued.buf = append(t.queued.buf, lines...)
	t.appends.Add(1)
	return t.queued, nil
}

// commit is one round: it writes and syncs the queued batch.
func (t *Trail) commit() error {
	t.mu.Lock()
	b := t.queued
	t.queued = nil
	t.mu.Unlock()
	if b == nil {
		return nil // an earlier round took the lines
	}
	err := t.writeAndSync(b.buf)
	t.mu.Lock()
	defer t.mu.Unlock()
	b.done = true
	if err != nil {
		b.err = fmt.Errorf("audit: append to %s: %w", t.path, err)
		return b.err
	}
	t.size += int64(len(b.buf))
	if cap(b.buf) <= maxSpareBuf {
		t.spare = b.buf // its Appends only read err
	}
	b.buf = nil
	return nil
}

func (t *Trail) writeAndSync(buf []byte) error {
	if t.broken {
		if err := t.reopen(); err != nil {
			return fmt.Errorf("recover from an earlier failure: %w", err)
		}
	}
	t.broken = true // until the sync below has succeeded
	if _, err := t.write(t.f, buf); err != nil {
		return err
	}
	t.syncs.Add(1)
	if err := t.sync(t.f); err != nil {
		return err
	}
	t.broken = false
	return nil
}

// reopen recovers from a failed write or sync: after a failed fsync the
// kernel may have dropped the pages and the old descriptor may keep
// reporting the error, so it opens the file afresh, cuts it back to its
// synced lines (whatever the failed round left after them, torn or whole,
// was reported as failed), syncs that, and swaps the descriptor.
func (t *Trail) reopen() error {
	f, err := os.OpenFile(t.path, os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	if err := t.cutBack(f); err != nil {
		f.Close()
		return err
	}
	t.reading.Lock()
	old := t.f
	t.f = f
	t.reading.Unlock()
	old.Close() // its error is the failure already reported
	t.broken = false
	return nil
}

// cutBack truncates f to the trail's synced size and syncs it.
func (t *Trail) cutBack(f *os.File) error {
	size := t.durable()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() < size {
		return fmt.Errorf("the file is %d bytes, shorter than its %d synced bytes", fi.Size(), size)
	}
	if fi.Size() > size {
		if err := f.Truncate(size); err != nil {
			return err
		}
	}
	t.syncs.Add(1)
	return t.sync(f)
}

// DurableSize returns the size of the synced part of the file. Every record
// appended later lies after it.
func (t *Trail) DurableSize() int64 { return t.durable() }

func (t *Trail) durable() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.size
}

// Close waits for Appends in progress and closes the file; if the last
// round failed, it first cuts the file back to its synced lines. Later
// calls return ErrClosed.
func (t *Trail) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return ErrClosed
	}
	t.closed = true
	t.mu.Unlock()
	t.appends.Wait()

	var cutErr error
	if t.broken { // no round runs any more
		cutErr = t.reopen()
	}
	t.reading.Lock()
	defer t.reading.Unlock()
	if err := t.f.Close(); err != nil {
		return fmt.Errorf("audit: close trail: %w", err)
	}
	if cutErr != nil {
		return fmt.Errorf("audit: close trail: cut back a failed append: %w", cutErr)
	}
	return nil
}

// Syncs returns the number of file syncs done since Open: with the number of
// records appended, it shows how well group commit shares them.
func (t *Trail) Syncs() int64 { return t.syncs.Load() }

// snapshot returns the size of the synced part of the file, for a Lookup.
func (t *Trail) snapshot() (int64, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return 0, ErrClosed
	}
	return t.size, nil
}

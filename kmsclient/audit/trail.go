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
)

// ErrClosed is returned by calls on a closed Trail.
var ErrClosed = errors.New("audit: trail closed")

const (
	defaultChunk = 64 << 10 // bytes read per step when scanning backwards
	maxSpareBuf  = 1 << 20  // largest batch buffer kept for reuse
)

// Trail is an open audit trail file. It is safe for concurrent use.
type Trail struct {
	f     *os.File
	path  string
	chunk int                  // backward-read step; tests shrink it
	now   func() time.Time     // default EventTime
	sync  func(*os.File) error // tests slow it down to watch batching
	syncs atomic.Int64         // syncs done, for tests and benchmarks

	mu      sync.Mutex
	cond    sync.Cond // signalled when a batch ends; uses mu
	pending []byte    // whole lines queued for the next batch
	spare   []byte    // the previous batch's buffer, for reuse
	filling uint64    // number of the batch new lines join
	durable uint64    // highest batch number written and synced
	leading bool      // a goroutine is writing a batch
	size    int64     // file bytes in complete, synced lines
	err     error     // first write or sync failure; sticky
	closed  bool

	reading sync.RWMutex // held shared by Lookup so Close waits for it
}

// Open opens the trail at path, creating the file (0600) and its directory
// (0700) if missing. A torn last line left by a crash is truncated away.
func Open(path string) (*Trail, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("audit: create trail directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: open trail: %w", err)
	}
	size, err := repairTail(f)
	if err == nil {
		err = syncDir(dir) // make a newly created file's name durable too
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("audit: open trail %s: %w", path, err)
	}
	t := &Trail{
		f:       f,
		path:    path,
		chunk:   defaultChunk,
		now:     time.Now,
		sync:    (*os.File).Sync,
		filling: 1,
		size:    size,
	}
	t.cond.L = &t.mu
	return t, nil
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

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Append records r durably: it returns nil only once r's line is written and
// synced. Before encoding, it fills r's empty fields in place: EventID and
// RequestID (random UUIDs), EventTime (now), EventVersion, EventSource,
// EventType, EventCategory, resource types and accounts, and RecipientAccountID
// (the first resource's account, else the caller's); ManagementEvent is set for
// Management events. EventTime is truncated to the second in UTC.
//
// After a failed write or sync every later Append fails with that error.
func (t *Trail) Append(r *Record) error {
	if r == nil {
		return errors.New("audit: nil record")
	}
	r.fillDefaults(t.now())
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("audit: encode record: %w", err)
	}
	line = append(line, '\n')

	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return ErrClosed
	}
	if t.err != nil {
		return t.err
	}
	t.pending = append(t.pending, line...)
	batch := t.filling
	for t.durable < batch {
		switch {
		case t.err != nil:
			return t.err
		case t.leading:
			t.cond.Wait()
		default:
			t.commitLocked()
		}
	}
	return nil
}

// commitLocked writes and syncs every queued line as one batch. It is called
// with t.mu held and releases it during the I/O so that other appenders can
// queue lines for the next batch.
func (t *Trail) commitLocked() {
	buf, batch := t.pending, t.filling
	t.pending, t.spare = t.spare[:0], nil
	t.filling++
	t.leading = true
	t.mu.Unlock()

	err := t.writeAndSync(buf)

	t.mu.Lock()
	t.leading = false
	if err != nil {
		t.err = fmt.Errorf("audit: append to %s: %w", t.path, err)
	} else {
		t.durable = batch
		t.size += int64(len(buf))
	}
	if cap(buf) <= maxSpareBuf {
		t.spare = buf[:0]
	}
	t.cond.Broadcast()
}

func (t *Trail) writeAndSync(buf []byte) error {
	if _, err := t.f.Write(buf); err != nil {
		return err
	}
	t.syncs.Add(1)
	return t.sync(t.f)
}

// Close waits for queued records to be committed and closes the file. Later
// calls return ErrClosed.
func (t *Trail) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return ErrClosed
	}
	t.closed = true
	for t.leading || (len(t.pending) > 0 && t.err == nil) {
		t.cond.Wait()
	}
	t.mu.Unlock()

	t.reading.Lock()
	defer t.reading.Unlock()
	if err := t.f.Close(); err != nil {
		return fmt.Errorf("audit: close trail: %w", err)
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

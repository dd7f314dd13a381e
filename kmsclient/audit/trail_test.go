package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func openTrail(t testing.TB) (*Trail, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit", "kms.jsonl")
	return openAt(t, path), path
}

func openAt(t testing.TB, path string) *Trail {
	t.Helper()
	tr, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

func appendN(t testing.TB, tr *Trail, from, to int) []*Record {
	t.Helper()
	var rs []*Record
	for i := from; i < to; i++ {
		r := newRecord(i)
		if err := tr.Append(r); err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
		rs = append(rs, r)
	}
	return rs
}

// lookupAll follows NextToken until the last page.
func lookupAll(t testing.TB, tr *Trail, q Query) []Record {
	t.Helper()
	var all []Record
	for page := 0; ; page++ {
		rs, next, err := tr.Lookup(q)
		if err != nil {
			t.Fatalf("Lookup page %d: %v", page, err)
		}
		all = append(all, rs...)
		if next == "" {
			return all
		}
		q.NextToken = next
	}
}

// fileLines returns the lines of the trail file, checking it ends in '\n'.
func fileLines(t *testing.T, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Fatalf("file does not end in a newline: %q", b[max(len(b)-40, 0):])
	}
	return bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
}

func TestOpenCreatesPrivateFile(t *testing.T) {
	tr, path := openTrail(t)
	appendN(t, tr, 0, 1)
	for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s mode = %v, want %v", p, got, want)
		}
	}
}

func TestAppendRoundTrip(t *testing.T) {
	tr, path := openTrail(t)
	in := newRecord(2)
	in.ErrorCode, in.ErrorMessage = "DisabledException", "arn is disabled."
	if err := tr.Append(in); err != nil {
		t.Fatal(err)
	}
	if in.EventID == "" || in.RequestID == "" || in.EventVersion != EventVersion {
		t.Errorf("Append did not fill defaults in place: %+v", in)
	}
	got, next, err := tr.Lookup(Query{})
	if err != nil || next != "" || len(got) != 1 {
		t.Fatalf("Lookup = %d records, %q, %v", len(got), next, err)
	}
	if a, b := mustJSON(t, in), mustJSON(t, got[0]); a != b {
		t.Errorf("round trip:\n got %s\nwant %s", b, a)
	}
	lines := fileLines(t, path)
	if len(lines) != 1 || string(lines[0]) != mustJSON(t, in) {
		t.Errorf("file = %q, want the record's JSON on one line", lines)
	}
}

func TestAppendVisibleToFreshOpen(t *testing.T) {
	tr, path := openTrail(t)
	for i := range 20 {
		r := newRecord(i)
		if err := tr.Append(r); err != nil {
			t.Fatal(err)
		}
		fresh := openAt(t, path) // as if the process had died right here
		got, _, err := fresh.Lookup(Query{MaxResults: 1})
		if err != nil || len(got) != 1 || got[0].EventID != r.EventID {
			t.Fatalf("after Append %d a fresh Open sees %v, %v; want %s", i, got, err, r.EventID)
		}
		fresh.Close()
	}
}

func TestConcurrentAppend(t *testing.T) {
	const writers, each = 32, 40
	tr, path := openTrail(t)
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				errs <- tr.Append(newRecord(w*each + i))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	lines := fileLines(t, path)
	if len(lines) != writers*each {
		t.Fatalf("%d lines, want %d", len(lines), writers*each)
	}
	seen := map[float64]bool{}
	for n, line := range lines {
		var r Record
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("line %d is not a record: %v: %q", n, err, line)
		}
		seen[r.RequestParameters["seq"].(float64)] = true
	}
	if len(seen) != writers*each {
		t.Errorf("%d distinct records, want %d", len(seen), writers*each)
	}
	if got := len(lookupAll(t, tr, Query{})); got != writers*each {
		t.Errorf("Lookup found %d records, want %d", got, writers*each)
	}
	t.Logf("%d records in %d syncs", writers*each, tr.syncs.Load())
}

func TestGroupCommitSharesSyncs(t *testing.T) {
	const writers = 64
	tr, _ := openTrail(t)
	tr.sync = func(f *os.File) error { // a slow disk: batches fill while it syncs
		time.Sleep(5 * time.Millisecond)
		return f.Sync()
	}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			if err := tr.Append(newRecord(w)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := tr.syncs.Load(); n > writers/4 {
		t.Errorf("%d appends took %d syncs; want them batched", writers, n)
	}
}

func TestTornTailRepaired(t *testing.T) {
	tr, path := openTrail(t)
	want := appendN(t, tr, 0, 3)
	tr.Close()

	full := mustJSON(t, newRecord(3))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(full[:len(full)/2]) // a crash in the middle of a write
	f.Close()

	tr = openAt(t, path)
	want = append(want, appendN(t, tr, 4, 6)...)
	got := lookupAll(t, tr, Query{})
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i, r := range got {
		if w := want[len(want)-1-i]; r.EventID != w.EventID {
			t.Errorf("record %d = %s, want %s", i, r.EventID, w.EventID)
		}
	}
	if lines := fileLines(t, path); len(lines) != len(want) {
		t.Errorf("file has %d lines, want %d", len(lines), len(want))
	}
}

func TestTornOnlyLineRepaired(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kms.jsonl")
	if err := os.WriteFile(path, []byte(`{"eventVersion":"1.0`), 0o600); err != nil {
		t.Fatal(err)
	}
	tr := openAt(t, path)
	if rs, _, err := tr.Lookup(Query{}); err != nil || len(rs) != 0 {
		t.Fatalf("Lookup = %v, %v; want nothing", rs, err)
	}
	appendN(t, tr, 0, 1)
	if lines := fileLines(t, path); len(lines) != 1 {
		t.Errorf("file has %d lines, want 1", len(lines))
	}
}

func TestClosed(t *testing.T) {
	tr, _ := openTrail(t)
	appendN(t, tr, 0, 1)
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tr.Append(newRecord(1)); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close = %v, want ErrClosed", err)
	}
	if _, _, err := tr.Lookup(Query{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Lookup after Close = %v, want ErrClosed", err)
	}
	if err := tr.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close = %v, want ErrClosed", err)
	}
}

// TestRecoversAfterSyncFailure checks that a failed sync fails the Append
// it covered, and only it: the next Append, with the disk working again,
// succeeds, and the file keeps exactly the acknowledged records.
func TestRecoversAfterSyncFailure(t *testing.T) {
	tr, path := openTrail(t)
	ok0 := appendN(t, tr, 0, 1)[0]
	boom := errors.New("disk on fire")
	tr.sync = func(*os.File) error { return boom }
	lost := newRecord(1)
	if err := tr.Append(lost); !errors.Is(err, boom) {
		t.Fatalf("Append = %v, want %v", err, boom)
	}
	tr.sync = (*os.File).Sync
	ok2 := appendN(t, tr, 2, 3)[0]
	wantIDs(t, path, tr, ok0.EventID, ok2.EventID)
	if err := tr.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	wantIDs(t, path, openAt(t, path), ok0.EventID, ok2.EventID)
}

// TestRecoversFromTornWrite checks that a write that put part of a line on
// disk and failed leaves no trace once the next Append has succeeded, and
// that Close cuts it too when no Append follows.
func TestRecoversFromTornWrite(t *testing.T) {
	tr, path := openTrail(t)
	ok0 := appendN(t, tr, 0, 1)[0]
	tear := func(f *os.File, b []byte) (int, error) {
		n, _ := f.Write(b[:len(b)/2])
		return n, errors.New("no space left on device")
	}
	tr.write = tear
	if err := tr.Append(newRecord(1)); err == nil {
		t.Fatal("a torn write succeeded")
	}
	tr.write = (*os.File).Write
	ok2 := appendN(t, tr, 2, 3)[0]
	wantIDs(t, path, tr, ok0.EventID, ok2.EventID)

	tr.write = tear
	if err := tr.Append(newRecord(3)); err == nil {
		t.Fatal("a torn write succeeded")
	}
	if err := tr.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	wantIDs(t, path, openAt(t, path), ok0.EventID, ok2.EventID)
}

// TestAppendResultMatchesFile appends from many goroutines while one sync in
// three fails: every Append that returned nil has its record in the file,
// once, and no Append that failed has.
func TestAppendResultMatchesFile(t *testing.T) {
	const writers, each = 16, 30
	tr, path := openTrail(t)
	var n atomic.Int64
	boom := errors.New("EIO")
	tr.sync = func(f *os.File) error {
		time.Sleep(time.Millisecond) // let batches form
		if n.Add(1)%3 == 0 {
			return boom
		}
		return f.Sync()
	}
	var mu sync.Mutex
	ok, failed := map[string]bool{}, map[string]bool{}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				r := newRecord(w*each + i)
				err := tr.Append(r)
				if err != nil && !errors.Is(err, boom) {
					t.Errorf("Append: %v", err)
				}
				mu.Lock()
				if err == nil {
					ok[r.EventID] = true
				} else {
					failed[r.EventID] = true
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(failed) == 0 || len(ok) == 0 {
		t.Fatalf("%d appends succeeded and %d failed; want both", len(ok), len(failed))
	}
	tr.sync = (*os.File).Sync
	last := appendN(t, tr, writers*each, writers*each+1)[0]
	ok[last.EventID] = true
	seen := map[string]int{}
	for _, line := range fileLines(t, path) {
		var r Record
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		seen[r.EventID]++
	}
	for id := range ok {
		if seen[id] != 1 {
			t.Errorf("acknowledged record %s is in the file %d times", id, seen[id])
		}
	}
	for id := range failed {
		if seen[id] != 0 {
			t.Errorf("record %s of a failed Append is in the file", id)
		}
	}
	t.Logf("%d appends acknowledged, %d failed, %d syncs", len(ok), len(failed), tr.syncs.Load())
}

// TestAppendManyIsContiguous checks that the records of one Append are
// written next to each other, in order, while others append.
func TestAppendManyIsContiguous(t *testing.T) {
	tr, path := openTrail(t)
	var wg sync.WaitGroup
	groups := make([][]*Record, 8)
	for g := range groups {
		groups[g] = []*Record{newRecord(3 * g), newRecord(3*g + 1), newRecord(3*g + 2)}
		wg.Go(func() {
			if err := tr.Append(groups[g]...); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	var ids []string
	for _, line := range fileLines(t, path) {
		var r Record
		json.Unmarshal(line, &r)
		ids = append(ids, r.EventID)
	}
	for _, g := range groups {
		i := slices.Index(ids, g[0].EventID)
		if i < 0 || i+2 >= len(ids) || ids[i+1] != g[1].EventID || ids[i+2] != g[2].EventID {
			t.Errorf("the records of one Append are not adjacent: %v", ids)
		}
	}
}

func TestContains(t *testing.T) {
	tr, _ := openTrail(t)
	tr.chunk = 100 // lines cross chunks
	before := appendN(t, tr, 0, 5)
	since := tr.DurableSize()
	after := appendN(t, tr, 5, 10)
	ids := []string{before[4].EventID, after[0].EventID, after[4].EventID, "not-there"}
	found, err := tr.Contains(since, ids)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{after[0].EventID: true, after[4].EventID: true}
	if !maps.Equal(found, want) {
		t.Errorf("Contains = %v, want %v", found, want)
	}
	if found, err := tr.Contains(0, ids[:1]); err != nil || !found[ids[0]] {
		t.Errorf("Contains from 0 = %v, %v", found, err)
	}
	if found, err := tr.Contains(tr.DurableSize()+100, ids); err != nil || len(found) != 0 {
		t.Errorf("Contains past the end = %v, %v", found, err)
	}
}

// wantIDs checks that the file and Lookup hold exactly the records ids,
// oldest first.
func wantIDs(t *testing.T, path string, tr *Trail, ids ...string) {
	t.Helper()
	var inFile []string
	for _, line := range fileLines(t, path) {
		var r Record
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		inFile = append(inFile, r.EventID)
	}
	if !slices.Equal(inFile, ids) {
		t.Errorf("file holds %v, want %v", inFile, ids)
	}
	var looked []string
	for _, r := range lookupAll(t, tr, Query{}) {
		looked = append([]string{r.EventID}, looked...)
	}
	if !slices.Equal(looked, ids) {
		t.Errorf("Lookup finds %v, want %v", looked, ids)
	}
}

func TestAppendNil(t *testing.T) {
	tr, _ := openTrail(t)
	if err := tr.Append(nil); err == nil {
		t.Error("Append(nil) succeeded")
	}
}

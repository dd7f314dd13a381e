package snapshot

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ebs-dev/ebs/blockdev"
	"github.com/ebs-dev/ebs/internal/kv"
)

// within runs fn in the background and reports whether it returned within
// a generous bound: a call that waits for a lock held through a copy the
// test is holding never does. The call goes on in the background anyway.
func within(fn func()) (returned bool, wait func()) {
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
		return true, func() {}
	case <-time.After(10 * time.Second):
		return false, func() { <-done }
	}
}

// holdFirstDecrypt arms the stack's KMS hook: the next Decrypt (a copy
// unwrapping its keys) waits until release is closed; entered is closed
// when it starts waiting.
func (s *stack) holdFirstDecrypt() (entered, release chan struct{}) {
	entered, release = make(chan struct{}), make(chan struct{})
	var once sync.Once
	hook := func(map[string]string) {
		once.Do(func() {
			close(entered)
			<-release
		})
	}
	s.onDecrypt.Store(&hook)
	return entered, release
}

// TestCopyDoesNotHoldCatalogue: while a full copy runs (a volume restored
// under a new data key, or a snapshot copied under another CMK), held at
// its start by the KMS hook, CreateSnapshot and DescribeSnapshots answer,
// and the snapshot it copies can be deleted, as on AWS (DeleteSnapshot
// refuses only the snapshots of a registered AMI or of AWS Backup): the
// copy holds its own pin on the source's view and completes from it, with
// the source's data. Then everything is freed.
func TestCopyDoesNotHoldCatalogue(t *testing.T) {
	for _, restore := range []bool{true, false} {
		t.Run(map[bool]string{true: "restore", false: "copy"}[restore], func(t *testing.T) {
			s := newStack(t)
			other := s.createKey("other")
			src, head := bigSnapshot(t, s, 4)
			busy := s.createVolume(1, false, "")
			entered, release := s.holdFirstDecrypt()
			var result string
			var copyErr error
			copied := make(chan struct{})
			go func() {
				defer close(copied)
				if restore {
					var out *blockdev.VolumeInfo
					if out, copyErr = s.snaps.CreateVolume(s.ctx, &blockdev.CreateVolumeInput{SnapshotID: src, Encrypted: ptr(true), KmsKeyID: other}); copyErr == nil {
						result = out.VolumeID
					}
					return
				}
				var out *CopySnapshotOutput
				if out, copyErr = s.snaps.CopySnapshot(s.ctx, &CopySnapshotInput{SourceSnapshotID: src, Encrypted: ptr(true), KmsKeyID: other}); copyErr == nil {
					result = out.SnapshotID
				}
			}()
			select {
			case <-entered:
			case <-time.After(30 * time.Second):
				t.Fatal("the copy never unwrapped its keys")
			}
			var snapErr, descErr, delErr error
			var waits []func()
			for _, c := range []struct {
				what string
				fn   func()
			}{
				{"CreateSnapshot", func() { _, snapErr = s.snaps.CreateSnapshot(s.ctx, &CreateSnapshotInput{VolumeID: busy}) }},
				{"DescribeSnapshots", func() { _, descErr = s.snaps.DescribeSnapshots(s.ctx, &DescribeSnapshotsInput{}) }},
				{"DeleteSnapshot of the source", func() { _, delErr = s.snaps.DeleteSnapshot(s.ctx, &SnapshotIDInput{SnapshotID: src}) }},
			} {
				ok, wait := within(c.fn)
				if !ok {
					t.Errorf("%s waited for the copy", c.what)
				}
				waits = append(waits, wait)
			}
			close(release)
			for _, w := range waits {
				w()
			}
			<-copied
			if snapErr != nil || descErr != nil || copyErr != nil {
				t.Fatalf("during the copy: CreateSnapshot %v, DescribeSnapshots %v; the copy: %v", snapErr, descErr, copyErr)
			}
			if delErr != nil {
				t.Errorf("DeleteSnapshot of the source during the copy: %v; want it deleted, as AWS does", delErr)
			}
			var got []byte
			if restore {
				got = s.restoreVolume(result, len(head))
				s.deleteVolume(result)
			} else {
				s.waitCopy(result)
				got = s.readSnapshot(result, make([]byte, len(head)))
				s.deleteSnapshot(result)
			}
			if !bytes.Equal(got, head) {
				t.Errorf("the copy, its source deleted meanwhile: %s", firstDiff(got, head))
			}
			if delErr != nil {
				s.deleteSnapshot(src)
			}
			for _, d := range s.describeAll() {
				s.deleteSnapshot(d.SnapshotID)
			}
			s.deleteVolume(busy)
			if used := s.usedBlocks(); used != 0 {
				slots, keys := s.mappedSlots()
				t.Errorf("UsedBlocks = %d with everything deleted (map: %d slots, keys %s)", used, slots, keyCounts(keys))
			}
			if _, keys := s.mappedSlots(); keys['p'] != 0 || keys['g'] != 0 {
				t.Errorf("keys left with everything deleted: %s", keyCounts(keys))
			}
		})
	}
}

func (s *stack) describeAll() []Snapshot {
	s.t.Helper()
	out, err := s.snaps.DescribeSnapshots(s.ctx, &DescribeSnapshotsInput{})
	if err != nil {
		s.t.Fatal(err)
	}
	return out.Snapshots
}

// TestEncryptVolumeConcurrentCalls: concurrent encrypt-volume calls for one
// volume start one task: one snapshot, one encrypted copy, one new volume.
// (Under -race, a task's fields written while a call reads them show too.)
func TestEncryptVolumeConcurrentCalls(t *testing.T) {
	s := newStack(t)
	vol := s.createVolume(1, false, "")
	v := s.attach(vol)
	writeAt(t, v, fill(3, 0, 64*bs), 0)
	const callers = 8
	var start, wg sync.WaitGroup
	start.Add(1)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start.Wait()
			if _, err := s.snaps.EncryptVolume(s.ctx, &EncryptVolumeInput{VolumeID: vol}); err != nil {
				t.Error(err)
			}
		}()
	}
	start.Done()
	wg.Wait()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		task, err := s.snaps.DescribeEncryptVolumeTask(s.ctx, &EncryptVolumeInput{VolumeID: vol})
		if err != nil {
			t.Fatal(err)
		}
		if task.State == taskCompleted && s.jobs() == 0 {
			break
		}
		if time.Now().After(deadline) || task.State == taskFailed {
			t.Fatalf("encrypt-volume: %+v", task)
		}
	}
	snaps := s.describeAll()
	vols, err := s.vols.Describe(s.ctx, &blockdev.DescribeVolumesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(snaps) != 2 || len(vols.Volumes) != 2 {
		t.Errorf("%d concurrent encrypt-volume calls made %d snapshots and %d volumes in all; want 2 and 2 (one task)", callers, len(snaps), len(vols.Volumes))
	}
}

// jobs is the number of copies and tasks running.
func (s *stack) jobs() int {
	s.snaps.run.mu.Lock()
	defer s.snaps.run.mu.Unlock()
	return len(s.snaps.run.jobs)
}

// TestDeleteSnapshotRecordAndPinTogether: a snapshot's record and its pin
// go in one transaction, so that no crash can leave a pin that no record
// will ever drop (its blocks held forever).
//
// The crash point is forced: the store's unpins and frees run one at a
// time, and the test holds one of them (an unpin of its own pin on the
// volume's lineage, which waits to refresh the pins of the lineage the test
// holds open in a Freeze). The delete waits behind it; whatever is
// committed at that moment is what a crash would leave.
func TestDeleteSnapshotRecordAndPinTogether(t *testing.T) {
	s := newStack(t)
	vol := s.createVolume(1, false, "")
	v := s.attach(vol)
	writeAt(t, v, fill(5, 0, 16*bs), 0)
	snap := s.snapshot(vol)
	s.detach(vol)
	r, err := s.snaps.get(snap)
	if err != nil {
		t.Fatal(err)
	}
	src := r.Source
	if err := s.st.Pin(src.Lineage, src.Gen, "test"); err != nil {
		t.Fatal(err)
	}
	lin, err := s.st.OpenLineage(src.Lineage, src.Gen+1, uint64(src.SizeGiB)<<30/bs)
	if err != nil {
		t.Fatal(err)
	}
	holding, release, frozen := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		frozen <- lin.Freeze(func(uint64) error {
			close(holding)
			<-release
			return errors.New("not this one")
		})
	}()
	<-holding
	unpinned, deleted := make(chan error, 1), make(chan error, 1)
	go func() { unpinned <- s.st.Unpin(src.Lineage, src.Gen, "test") }()
	for deadline := time.Now().Add(30 * time.Second); s.hasKey(pinKeyOf(src.Lineage, src.Gen, "test")); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			close(release)
			t.Fatal("the test's unpin did not start")
		}
	}
	go func() {
		_, err := s.snaps.DeleteSnapshot(s.ctx, &SnapshotIDInput{SnapshotID: snap})
		deleted <- err
	}()
	for deadline := time.Now().Add(30 * time.Second); s.hasKey([]byte(prefixSnapshot + snap)); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			close(release)
			t.Fatal("the delete did not delete the record")
		}
	}
	if s.hasKey(pinKeyOf(src.Lineage, src.Gen, snap)) {
		t.Errorf("the record of %s is gone while its pin is still there: a crash now keeps its blocks forever", snap)
	}
	close(release)
	for _, c := range []chan error{unpinned, deleted} {
		if err := <-c; err != nil {
			t.Fatal(err)
		}
	}
	<-frozen
	if err := lin.Close(); err != nil {
		t.Fatal(err)
	}
	s.deleteVolume(vol)
	if used := s.usedBlocks(); used != 0 {
		t.Errorf("UsedBlocks = %d with everything deleted", used)
	}
}

// pinKeyOf is the store's pin key ("p" | lineage | gen | holder, see
// blockdev/store/mapkey.go).
func pinKeyOf(lineage, gen uint64, holder string) []byte {
	k := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64([]byte{'p'}, lineage), gen)
	return append(k, holder...)
}

func (s *stack) hasKey(key []byte) bool {
	s.t.Helper()
	_, err := s.meta.Get(key)
	if errors.Is(err, kv.ErrNotFound) {
		return false
	}
	if err != nil {
		s.t.Fatal(err)
	}
	return true
}

// TestListChangedBlocksRelatedError: a lineage record that cannot be read
// while two snapshots are compared is an error, not UNRELATED_SNAPSHOTS.
func TestListChangedBlocksRelatedError(t *testing.T) {
	s := newStack(t)
	vol := s.createVolume(1, false, "")
	v := s.attach(vol)
	writeAt(t, v, fill(1, 0, 8*bs), 0)
	first := s.snapshot(vol)
	s.detach(vol)
	restored, err := s.snaps.CreateVolume(s.ctx, &blockdev.CreateVolumeInput{SnapshotID: first})
	if err != nil {
		t.Fatal(err)
	}
	v = s.attach(restored.VolumeID)
	writeAt(t, v, fill(2, 0, bs), 0)
	second := s.snapshot(restored.VolumeID)
	s.detach(restored.VolumeID)
	in := &ListChangedBlocksInput{FirstSnapshotID: first, SecondSnapshotID: second}
	if _, err := s.snaps.ListChangedBlocks(s.ctx, in); err != nil { // caches both views
		t.Fatal(err)
	}
	r, err := s.snaps.get(second)
	if err != nil {
		t.Fatal(err)
	}
	key := binary.BigEndian.AppendUint64([]byte{'l'}, r.Source.Lineage) // "l" | lineage -> JSON
	good, err := s.meta.Get(key)
	if err != nil {
		t.Fatal(err)
	}
	setKey := func(v []byte) {
		if err := s.meta.Update(func(tx *kv.Txn) error { return tx.Set(key, v) }); err != nil {
			t.Fatal(err)
		}
	}
	setKey(good[:len(good)-1])
	_, err = s.snaps.ListChangedBlocks(s.ctx, in)
	setKey(good)
	if err == nil || isKind(err, ErrUnrelatedSnapshots) {
		t.Errorf("ListChangedBlocks over a torn lineage record: %v; want the store's error", err)
	}
}

// TestDescribeSnapshotsFromRecords: DescribeSnapshots answers the full size
// from the record once it is known (it no longer reads the block map: a
// torn lineage record does not change the answer); a record without it (made
// before) is answered from the map once, and the size saved; and a map
// that cannot be read is an error, not a size left out.
func TestDescribeSnapshotsFromRecords(t *testing.T) {
	s := newStack(t)
	vol := s.createVolume(1, false, "")
	v := s.attach(vol)
	writeAt(t, v, fill(4, 0, 24*bs), 0)
	snap := s.snapshot(vol)
	s.detach(vol)
	r, err := s.snaps.get(snap)
	if err != nil {
		t.Fatal(err)
	}
	recKey := []byte(prefixSnapshot + snap)
	rawRecord := func() map[string]any {
		raw, err := s.meta.Get(recKey)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]any{}
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	setRaw := func(key []byte, v []byte) {
		if err := s.meta.Update(func(tx *kv.Txn) error { return tx.Set(key, v) }); err != nil {
			t.Fatal(err)
		}
	}
	want := int64(24 * bs)
	full := func(what string) {
		t.Helper()
		if got := s.describe(snap).FullSnapshotSizeInBytes; got == nil || *got != want {
			t.Errorf("%s: FullSnapshotSizeInBytes = %v, want %d", what, got, want)
		}
	}
	full("first describe")
	if m := rawRecord(); !strings.Contains(fmt.Sprint(m), "fullBytes") {
		t.Errorf("the record after a describe: %v; want the full size kept in it", m)
	}

	linKey := binary.BigEndian.AppendUint64([]byte{'l'}, r.Source.Lineage)
	goodLin, err := s.meta.Get(linKey)
	if err != nil {
		t.Fatal(err)
	}
	setRaw(linKey, goodLin[:len(goodLin)-1])
	full("with the lineage record torn")

	m := rawRecord() // as made before records kept the size
	delete(m, "fullBytes")
	old, _ := json.Marshal(m)
	setRaw(recKey, old)
	if out, err := s.snaps.DescribeSnapshots(s.ctx, &DescribeSnapshotsInput{SnapshotIDs: []string{snap}}); err == nil {
		t.Errorf("describe of an old record over an unreadable map: %+v, nil; want an error", out.Snapshots)
	}
	setRaw(linKey, goodLin)
	full("an old record")
	if m := rawRecord(); !strings.Contains(fmt.Sprint(m), "fullBytes") {
		t.Errorf("an old record after a describe: %v; want the full size saved in it", m)
	}
}

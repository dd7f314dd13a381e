package snapshot

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ebs-dev/ebs/blockdev"
	"github.com/ebs-dev/ebs/internal/kv"
	"github.com/ebs-dev/ebs/kmsclient"
)

// TestCopyInProgress: while a re-encrypting copy runs, the copy (pending)
// cannot be copied (IncorrectState); once it completes, it can. (Its
// source can be deleted meanwhile: TestCopyDoesNotHoldCatalogue.)
func TestCopyInProgress(t *testing.T) {
	s := newStack(t)
	other := s.createKey("other")
	src, head := bigSnapshot(t, s, 8)
	entered, release := s.holdFirstDecrypt()
	out, err := s.snaps.CopySnapshot(s.ctx, &CopySnapshotInput{SourceSnapshotID: src, Encrypted: ptr(true), KmsKeyID: other})
	if err != nil {
		t.Fatal(err)
	}
	<-entered
	_, copyErr := s.snaps.CopySnapshot(s.ctx, &CopySnapshotInput{SourceSnapshotID: out.SnapshotID})
	close(release)
	if !isKind(copyErr, blockdev.ErrIncorrectState) {
		t.Errorf("copy of a pending copy: %v, want IncorrectState", copyErr)
	}
	d := s.waitCopy(out.SnapshotID)
	if !d.Encrypted || d.KmsKeyID != other {
		t.Errorf("copy: encrypted %v under %s, want under %s", d.Encrypted, d.KmsKeyID, other)
	}
	if got := s.readSnapshot(out.SnapshotID, make([]byte, len(head))); !bytes.Equal(got, head) {
		t.Errorf("copy: %s", firstDiff(got, head))
	}
	s.deleteSnapshot(src)
	s.copySnapshot(&CopySnapshotInput{SourceSnapshotID: out.SnapshotID})
}

// TestDeletePendingCopy: deleting a copy while it is pending cancels it: it
// never shows up again (not before, not after a restart), and its blocks
// are freed.
func TestDeletePendingCopy(t *testing.T) {
	s := newStack(t)
	other := s.createKey("other")
	src, _ := bigSnapshot(t, s, 8)
	base := s.usedBlocks()
	out, err := s.snaps.CopySnapshot(s.ctx, &CopySnapshotInput{SourceSnapshotID: src, Encrypted: ptr(true), KmsKeyID: other})
	if err != nil {
		t.Fatal(err)
	}
	s.deleteSnapshot(out.SnapshotID)
	s.waitNoCopies()
	check := func(when string) {
		t.Helper()
		if d, err := s.snaps.DescribeSnapshots(s.ctx, &DescribeSnapshotsInput{SnapshotIDs: []string{out.SnapshotID}}); !isKind(err, ErrSnapshotNotFound) {
			t.Errorf("%s: the deleted copy %s: %+v, %v; want NotFound", when, out.SnapshotID, d, err)
		}
		if used := s.usedBlocks(); used != base {
			t.Errorf("%s: UsedBlocks = %d, want %d (the copy's blocks freed)", when, used, base)
		}
	}
	check("after the delete")
	s.reopen()
	s.waitNoCopies()
	check("after a restart")
	s.deleteSnapshot(src)
	if used := s.usedBlocks(); used != 0 {
		t.Errorf("UsedBlocks = %d with every snapshot deleted", used)
	}
}

// TestCopyResumesAfterRestart: a restart during a copy resumes it, with the
// right contents and no blocks left over from the interrupted attempt. The
// copy is held at its start until the daemon stops, so that the restart
// always interrupts it.
func TestCopyResumesAfterRestart(t *testing.T) {
	s := newStack(t)
	other := s.createKey("other")
	src, head := bigSnapshot(t, s, 4)
	entered, release := s.holdFirstDecrypt()
	out, err := s.snaps.CopySnapshot(s.ctx, &CopySnapshotInput{SourceSnapshotID: src, Encrypted: ptr(true), KmsKeyID: other})
	if err != nil {
		t.Fatal(err)
	}
	<-entered
	stopping := s.snaps.run.ctx
	go func() { <-stopping.Done(); close(release) }()
	s.reopen()
	s.waitCopy(out.SnapshotID)
	if got := s.readSnapshot(out.SnapshotID, make([]byte, len(head))); !bytes.Equal(got, head) {
		t.Errorf("copy: %s", firstDiff(got, head))
	}
	s.checkAccounting("after the copy")
	s.deleteSnapshot(src)
	s.deleteSnapshot(out.SnapshotID)
	if used := s.usedBlocks(); used != 0 {
		slots, keys := s.mappedSlots()
		t.Errorf("UsedBlocks = %d with every snapshot deleted (map: %d slots, keys %s)", used, slots, keyCounts(keys))
	}
	if _, keys := s.mappedSlots(); keys['p'] != 0 || keys['g'] != 0 {
		t.Errorf("keys left with every snapshot deleted: %s", keyCounts(keys))
	}
}

// TestCopyResumesOldRecord: a pending copy recorded before copies pinned
// their source (no "from" in its record, no pin) resumes after an upgrade:
// it pins its source from the source's record, and completes.
func TestCopyResumesOldRecord(t *testing.T) {
	s := newStack(t)
	other := s.createKey("other")
	src, head := bigSnapshot(t, s, 2)
	id := newID("snap-")
	old := map[string]any{"id": id, "description": "an old copy", "start": time.Now(), "state": statePending,
		"source": map[string]any{"volumeId": "vol-ffffffff", "sizeGiB": 1, "encrypted": true},
		"copy":   map[string]any{"source": src, "encrypted": true, "keyId": other, "caller": callerOf(s.ctx)}}
	raw, err := json.Marshal(old)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.meta.Update(func(tx *kv.Txn) error { return tx.Set([]byte(prefixSnapshot+id), raw) }); err != nil {
		t.Fatal(err)
	}
	s.reopen()
	d := s.waitCopy(id)
	if d.KmsKeyID != other {
		t.Errorf("the resumed copy is under %s, want %s", d.KmsKeyID, other)
	}
	if got := s.readSnapshot(id, make([]byte, len(head))); !bytes.Equal(got, head) {
		t.Errorf("the resumed copy: %s", firstDiff(got, head))
	}
	s.deleteSnapshot(src)
	s.deleteSnapshot(id)
	if used := s.usedBlocks(); used != 0 {
		slots, keys := s.mappedSlots()
		t.Errorf("UsedBlocks = %d with every snapshot deleted (map: %d slots, keys %s)", used, slots, keyCounts(keys))
	}
}

// TestCreateVolumeWhileSnapshotDeleted: CreateVolume from a snapshot that
// is deleted at the same time must either fail (NotFound) or give a volume
// with the snapshot's data: never a volume over freed blocks.
//
// The interleaving is forced: the Manager is kept busy (a Snapshot of
// another volume whose callback waits) while CreateVolume has read the
// snapshot's record and waits for the Manager; the snapshot is deleted
// then; then the Manager is let go.
func TestCreateVolumeWhileSnapshotDeleted(t *testing.T) {
	for _, reencrypt := range []bool{false, true} {
		t.Run(map[bool]string{false: "same key", true: "another key"}[reencrypt], func(t *testing.T) {
			s := newStack(t)
			other := s.createKey("other")
			blocker := s.createVolume(1, false, "")
			id := s.createVolume(1, true, "")
			v := s.attach(id)
			want := fill(10, 0, 64*bs)
			writeAt(t, v, want, 0)
			snap := s.snapshot(id)
			writeAt(t, v, fill(100, 0, 64*bs), 0) // the snapshot's blocks are its own now
			in := &blockdev.CreateVolumeInput{SnapshotID: snap}
			if reencrypt {
				in.Encrypted, in.KmsKeyID = ptr(true), other
			}

			holding, release := make(chan struct{}), make(chan struct{})
			blocked := make(chan error, 1)
			go func() {
				blocked <- s.vols.Snapshot(s.ctx, blocker, func(*kv.Txn, blockdev.SourceInfo) error {
					close(holding)
					<-release
					return errors.New("not this one")
				})
			}()
			<-holding
			var created *blockdev.VolumeInfo
			var createErr error
			createDone := make(chan struct{})
			go func() {
				defer close(createDone)
				created, createErr = s.snaps.CreateVolume(s.ctx, in)
			}()
			time.Sleep(50 * time.Millisecond) // CreateVolume reads the record, then waits for the Manager
			deleted := make(chan error, 1)
			go func() {
				_, err := s.snaps.DeleteSnapshot(s.ctx, &SnapshotIDInput{SnapshotID: snap})
				deleted <- err
			}()
			select {
			case err := <-deleted: // the delete ran while CreateVolume waited
				if err != nil {
					t.Fatal(err)
				}
				// Churn, so that the freed slots hold other data.
				writeAt(t, v, fill(200, 64*bs, 64*bs), 64*bs)
				if err := v.Sync(); err != nil {
					t.Fatal(err)
				}
				close(release)
			case <-time.After(200 * time.Millisecond): // the delete waits for CreateVolume
				close(release)
				if err := <-deleted; err != nil {
					t.Fatal(err)
				}
			}
			<-blocked
			<-createDone
			if createErr != nil {
				if !isKind(createErr, ErrSnapshotNotFound) {
					t.Errorf("create volume: %v", createErr)
				}
				return
			}
			got := s.restoreVolume(created.VolumeID, len(want))
			if !bytes.Equal(got, want) {
				t.Errorf("CreateVolume from %s, deleted meanwhile, succeeded with the wrong data: %s", snap, firstDiff(got, want))
			}
			s.deleteVolume(created.VolumeID)
			s.detach(id)
			s.deleteVolume(id)
			s.deleteVolume(blocker)
			if used := s.usedBlocks(); used != 0 {
				slots, keys := s.mappedSlots()
				t.Errorf("UsedBlocks = %d with everything deleted (map: %d slots, keys %s)", used, slots, keyCounts(keys))
			}
		})
	}
}

// restoreVolume reads the first n bytes of a detached volume.
func (s *stack) restoreVolume(id string, n int) []byte {
	s.t.Helper()
	v := s.attach(id)
	buf := make([]byte, n)
	readChunks(s.t, v, buf)
	s.detach(id)
	return buf
}

// TestKeyDeletionGuardDoesNotDeadlock: the daemon installs KeyUsers as the
// KMS's deletion guard. ScheduleKeyDeletion calls it while it holds the
// KMS's lock; KeyUsers lists volumes, which takes the Manager's lock; and
// the Manager calls the KMS while it holds its own lock (Create, Attach,
// Detach, CreateFromSnapshot...). A ScheduleKeyDeletion racing with, say, a
// CreateVolume of an encrypted volume must not hang both.
//
// The interleaving is forced: the Manager is kept busy (a Snapshot whose
// callback waits) while an encrypted Create queues for it, then a
// ScheduleKeyDeletion takes the KMS lock and queues for the Manager too;
// then the Manager is let go, to the Create first.
func TestKeyDeletionGuardDoesNotDeadlock(t *testing.T) {
	s := newStack(t)
	key, doomed := s.createKey("in use"), s.createKey("to delete")
	blocker := s.createVolume(1, false, "")

	holding, release := make(chan struct{}), make(chan struct{})
	go func() {
		s.vols.Snapshot(s.ctx, blocker, func(*kv.Txn, blockdev.SourceInfo) error {
			close(holding)
			<-release
			return errors.New("not this one")
		})
	}()
	<-holding
	created, scheduled := make(chan error, 1), make(chan error, 1)
	go func() {
		_, err := s.vols.Create(s.ctx, &blockdev.CreateVolumeInput{Size: 1, Encrypted: ptr(true), KmsKeyID: key})
		created <- err
	}()
	time.Sleep(30 * time.Millisecond) // Create waits for the Manager
	go func() {
		_, err := s.kms.ScheduleKeyDeletion(s.ctx, &kmsclient.ScheduleKeyDeletionInput{KeyID: doomed, PendingWindowInDays: 7})
		scheduled <- err
	}()
	time.Sleep(30 * time.Millisecond) // ScheduleKeyDeletion holds the KMS, runs the guard, waits for the Manager
	close(release)
	timeout := time.After(3 * time.Second)
	for range 2 {
		select {
		case err := <-created:
			if err != nil {
				t.Errorf("create volume: %v", err)
			}
		case err := <-scheduled:
			if err != nil {
				t.Errorf("schedule key deletion: %v", err)
			}
		case <-timeout:
			s.snaps = nil // the stack is stuck: leave it (and its goroutines) behind
			t.Fatal("deadlock: CreateVolume (holding the Manager, calling the KMS) and ScheduleKeyDeletion " +
				"(holding the KMS, running the deletion guard KeyUsers, which lists volumes through the Manager) wait for each other")
		}
	}
}

const dbs = directBlockSize

func changedSet(t *testing.T, s *stack, first, second string) map[int64]ChangedBlock {
	t.Helper()
	out := map[int64]ChangedBlock{}
	in := &ListChangedBlocksInput{FirstSnapshotID: first, SecondSnapshotID: second, MaxResults: 100}
	for {
		page, err := s.snaps.ListChangedBlocks(s.ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range page.ChangedBlocks {
			if _, dup := out[c.BlockIndex]; dup {
				t.Errorf("ListChangedBlocks(%s, %s): block %d listed twice", first, second, c.BlockIndex)
			}
			out[c.BlockIndex] = c
		}
		if page.NextToken == "" {
			return out
		}
		in.NextToken = page.NextToken
	}
}

func indexes[V any](m map[int64]V) []int64 {
	var out []int64
	for i := range m {
		out = append(out, i)
	}
	slices.Sort(out)
	return out
}

func TestListChangedBlocks(t *testing.T) {
	s := newStack(t)
	id := s.createVolume(1, true, "")
	v := s.attach(id)
	for _, i := range []int{0, 3, 10, 600} {
		writeAt(t, v, fill(1, i*dbs+8*bs, bs), i*dbs+8*bs)
	}
	snap1 := s.snapshot(id)
	writeAt(t, v, fill(2, 3*dbs, 3*bs), 3*dbs)        // rewritten
	writeAt(t, v, fill(2, 5*dbs-100, 200), 5*dbs-100) // unaligned, across blocks 4 and 5
	writeAt(t, v, fill(2, 20*dbs+dbs-bs, bs), 20*dbs+dbs-bs)
	if err := v.Discard(10*dbs, dbs); err != nil { // block 10 emptied
		t.Fatal(err)
	}
	for i := 100; i < 250; i++ { // more than a page of 100
		writeAt(t, v, fill(3, i*dbs, 10), i*dbs)
	}
	snap2 := s.snapshot(id)
	writeAt(t, v, fill(4, 7*dbs, bs), 7*dbs) // after snap2: in no listing
	snap3 := s.snapshot(id)

	want := []int64{3, 4, 5, 10, 20}
	for i := int64(100); i < 250; i++ {
		want = append(want, i)
	}
	got := changedSet(t, s, snap1, snap2)
	if idx := indexes(got); !slices.Equal(idx, want) {
		t.Errorf("ListChangedBlocks(snap1, snap2) = %v, want %v", idx, want)
	}
	for i, c := range got {
		hadData, hasData := i == 3 || i == 10, i != 10
		if (c.FirstBlockToken != "") != hadData || (c.SecondBlockToken != "") != hasData {
			t.Errorf("changed block %d: first token %q, second token %q; want tokens for data in snap1 %v, snap2 %v", i, c.FirstBlockToken, c.SecondBlockToken, hadData, hasData)
		}
		if c.SecondBlockToken != "" {
			if err := CheckBlockToken(c.SecondBlockToken, snap2, i, time.Now()); err != nil {
				t.Errorf("changed block %d: %v", i, err)
			}
		}
	}
	// The other way round (views compared) gives the same blocks.
	if idx := indexes(changedSet(t, s, snap2, snap1)); !slices.Equal(idx, want) {
		t.Errorf("ListChangedBlocks(snap2, snap1) = %v, want %v", idx, want)
	}
	if idx := indexes(changedSet(t, s, snap2, snap3)); !slices.Equal(idx, []int64{7}) {
		t.Errorf("ListChangedBlocks(snap2, snap3) = %v, want [7]", idx)
	}
	if idx := indexes(changedSet(t, s, snap3, snap3)); len(idx) != 0 {
		t.Errorf("ListChangedBlocks(snap3, snap3) = %v, want none", idx)
	}
	// Without a first snapshot: every block of the second holding data.
	all := append([]int64{0, 3, 4, 5, 20}, want[5:]...)
	all = append(all, 600)
	slices.Sort(all)
	if idx := indexes(changedSet(t, s, "", snap2)); !slices.Equal(idx, all) {
		t.Errorf("ListChangedBlocks(-, snap2) = %v, want %v", idx, all)
	}
	// A volume restored from snap2 and written: another lineage, compared
	// by views.
	restored, err := s.snaps.CreateVolume(s.ctx, &blockdev.CreateVolumeInput{SnapshotID: snap2})
	if err != nil {
		t.Fatal(err)
	}
	rv := s.attach(restored.VolumeID)
	writeAt(t, rv, fill(5, 30*dbs, bs), 30*dbs)
	writeAt(t, rv, fill(5, 3*dbs+bs, bs), 3*dbs+bs)
	snapR := s.snapshot(restored.VolumeID)
	if idx := indexes(changedSet(t, s, snap2, snapR)); !slices.Equal(idx, []int64{3, 30}) {
		t.Errorf("ListChangedBlocks(snap2, snap of a volume from it) = %v, want [3 30]", idx)
	}
	// Deleting the snapshot in between changes nothing.
	s.deleteSnapshot(snap2)
	if idx := indexes(changedSet(t, s, snap1, snap3)); !slices.Equal(idx, append(want[:3:3], append([]int64{7}, want[3:]...)...)) {
		t.Errorf("ListChangedBlocks(snap1, snap3) after deleting snap2 = %v", idx)
	}
}

func TestListSnapshotBlocks(t *testing.T) {
	s := newStack(t)
	id := s.createVolume(1, false, "")
	v := s.attach(id)
	want := map[int64]bool{}
	for i := 0; i < 150; i++ {
		idx := i * 13
		writeAt(t, v, fill(1, idx*dbs+i*bs%dbs, 100), idx*dbs+i*bs%dbs)
		want[int64(idx)] = true
	}
	if err := v.Discard(13*dbs, dbs); err != nil { // emptied: not listed
		t.Fatal(err)
	}
	delete(want, 13)
	if err := v.ZeroRange(26*dbs, 10); err != nil { // zeroed in part: still stored
		t.Fatal(err)
	}
	writeAt(t, v, fill(1, 1<<30-bs, bs), 1<<30-bs) // the very last block
	want[1<<30/dbs-1] = true
	snap := s.snapshot(id)
	writeAt(t, v, fill(2, 5*dbs, bs), 5*dbs) // after the snapshot

	got := map[int64]bool{}
	in := &ListSnapshotBlocksInput{SnapshotID: snap, MaxResults: 100}
	pages := 0
	for {
		out, err := s.snaps.ListSnapshotBlocks(s.ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if out.BlockSize != dbs || out.VolumeSize != 1 {
			t.Errorf("BlockSize %d, VolumeSize %d", out.BlockSize, out.VolumeSize)
		}
		for _, b := range out.Blocks {
			if got[b.BlockIndex] {
				t.Errorf("block %d listed twice", b.BlockIndex)
			}
			got[b.BlockIndex] = true
			if err := CheckBlockToken(b.BlockToken, snap, b.BlockIndex, time.Now()); err != nil {
				t.Errorf("block %d: %v", b.BlockIndex, err)
			}
			if err := CheckBlockToken(b.BlockToken, snap, b.BlockIndex+1, time.Now()); err == nil {
				t.Errorf("block %d's token is valid for block %d", b.BlockIndex, b.BlockIndex+1)
			}
		}
		if out.NextToken == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	if pages != 2 {
		t.Errorf("%d pages of at most 100 for %d blocks, want 2", pages, len(want))
	}
	if g, w := indexes(got), indexes(want); !slices.Equal(g, w) {
		t.Errorf("ListSnapshotBlocks = %v,\nwant %v", g, w)
	}
	out, err := s.snaps.ListSnapshotBlocks(s.ctx, &ListSnapshotBlocksInput{SnapshotID: snap, StartingBlockIndex: 1900})
	if err != nil {
		t.Fatal(err)
	}
	var tail []int64
	for _, b := range out.Blocks {
		tail = append(tail, b.BlockIndex)
	}
	if want := []int64{1911, 1924, 1937, 2047}; !slices.Equal(tail, want) {
		t.Errorf("from block 1900: %v, want %v", tail, want)
	}
}

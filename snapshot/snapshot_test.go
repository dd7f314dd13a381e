package snapshot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ebs-dev/ebs/blockdev"
	"github.com/ebs-dev/ebs/internal/kv"
	"github.com/ebs-dev/ebs/kmsclient"
)

const bs = blockdev.BlockSize

// fill is n bytes of a pattern that names tag and the byte's block.
func fill(tag byte, off, n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = tag ^ byte((off+i)/bs)
	}
	return p
}

func writeAt(t testing.TB, v *blockdev.Volume, p []byte, off int) {
	t.Helper()
	if n, err := v.WriteAt(p, int64(off)); err != nil || n != len(p) {
		t.Fatalf("write %s at %d: %d, %v", v.ID(), off, n, err)
	}
}

func TestDeleteMiddleSnapshot(t *testing.T) {
	s := newStack(t)
	id := s.createVolume(1, true, "")
	v := s.attach(id)
	data := make([]byte, 16*bs)
	write := func(tag byte, first, n int) {
		p := fill(tag, first*bs, n*bs)
		writeAt(t, v, p, first*bs)
		copy(data[first*bs:], p)
	}
	write(1, 0, 16)
	snap1, want1 := s.snapshot(id), slices.Clone(data)
	write(2, 0, 4)
	snap2 := s.snapshot(id)
	write(3, 0, 2)
	write(3, 4, 2)
	snap3, want3 := s.snapshot(id), slices.Clone(data)
	write(4, 8, 1)

	if used := s.usedBlocks(); used != 16+4+4+1 {
		t.Errorf("UsedBlocks = %d, want 25", used)
	}
	// snap2 alone holds blocks 0 and 1 of generation 2 (2 and 3 are still
	// in snap3).
	if u := s.describe(snap2).UniqueSizeInBytes; u != 2*bs {
		t.Errorf("UniqueSizeInBytes(snap2) = %d, want %d", u, 2*bs)
	}
	before := s.usedBlocks()
	s.deleteSnapshot(snap2)
	after := s.usedBlocks()
	if before-after != 2 {
		t.Errorf("deleting the middle snapshot freed %d slots, want 2 (its unique blocks)", before-after)
	}
	if got := s.readSnapshot(snap1, make([]byte, len(data))); !bytes.Equal(got, want1) {
		t.Errorf("snap1 after deleting snap2: %s", firstDiff(got, want1))
	}
	if got := s.readSnapshot(snap3, make([]byte, len(data))); !bytes.Equal(got, want3) {
		t.Errorf("snap3 after deleting snap2: %s", firstDiff(got, want3))
	}
	if got := s.restore(snap1, make([]byte, len(data))); !bytes.Equal(got, want1) {
		t.Errorf("volume from snap1: %s", firstDiff(got, want1))
	}
	if got := s.restore(snap3, make([]byte, len(data))); !bytes.Equal(got, want3) {
		t.Errorf("volume from snap3: %s", firstDiff(got, want3))
	}
	got := make([]byte, len(data))
	readChunks(t, v, got)
	if !bytes.Equal(got, data) {
		t.Errorf("volume: %s", firstDiff(got, data))
	}
	if used := s.usedBlocks(); used != after {
		t.Errorf("UsedBlocks = %d after restoring and deleting volumes, want %d", used, after)
	}
	s.checkAccounting("end")
}

// TestSnapshotCrashConsistentUnderWrites: writers write their own blocks,
// each write a whole block stamped (writer, sequence, block); snapshots are
// taken meanwhile. Every block of a snapshot must be one complete write (or
// zeros if never written), and every write acknowledged before
// CreateSnapshot was called must be in it (or overwritten by a later one).
func TestSnapshotCrashConsistentUnderWrites(t *testing.T) {
	const writers, perWriter, snapshots = 4, 32, 3
	s := newStack(t)
	id := s.createVolume(1, true, "")
	v := s.attach(id)

	var mu sync.Mutex
	acked := map[uint64]uint64{}      // block -> sequence of the last acknowledged write
	issued := make([]uint64, writers) // sequence of each writer's last write started
	done := make([]int, writers)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := uint64(1); ; seq++ {
				select {
				case <-stop:
					return
				default:
				}
				n := 1 + int(seq%3) // runs of 1-3 blocks
				first := uint64(w*perWriter) + (seq*7)%uint64(perWriter-n+1)
				p := make([]byte, n*bs)
				for i := range n {
					stamp(p[i*bs:(i+1)*bs], uint64(w), seq, first+uint64(i))
				}
				mu.Lock()
				issued[w] = seq
				mu.Unlock()
				if _, err := v.WriteAt(p, int64(first)*bs); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for i := range uint64(n) {
					acked[first+i] = seq
				}
				done[w]++
				mu.Unlock()
			}
		}()
	}
	waitWrites := func(n int) {
		for {
			mu.Lock()
			least := slices.Min(done)
			mu.Unlock()
			if least >= n {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}
	type taken struct {
		id     string
		before map[uint64]uint64
	}
	var snaps []taken
	for i := range snapshots {
		waitWrites(20 * (i + 1))
		mu.Lock()
		before := make(map[uint64]uint64, len(acked))
		for k, v := range acked {
			before[k] = v
		}
		mu.Unlock()
		snaps = append(snaps, taken{s.snapshot(id), before})
	}
	waitWrites(20 * (snapshots + 1))
	close(stop)
	wg.Wait()

	buf := make([]byte, writers*perWriter*bs)
	for _, sn := range snaps {
		got := s.readSnapshot(sn.id, buf)
		for lba := uint64(0); lba < writers*perWriter; lba++ {
			b := got[lba*bs : (lba+1)*bs]
			w, seq, at, ok := parseStamp(b)
			switch {
			case !ok && bytes.Equal(b, make([]byte, bs)):
				if sn.before[lba] != 0 {
					t.Errorf("%s: block %d is empty, but write %d was acknowledged before the snapshot", sn.id, lba, sn.before[lba])
				}
			case !ok:
				t.Errorf("%s: block %d is torn (not one complete write)", sn.id, lba)
			case at != lba || w != lba/perWriter || seq > issued[w]:
				t.Errorf("%s: block %d holds writer %d's write %d of block %d", sn.id, lba, w, seq, at)
			case seq < sn.before[lba]:
				t.Errorf("%s: block %d holds write %d, but write %d was acknowledged before the snapshot", sn.id, lba, seq, sn.before[lba])
			}
		}
	}
	// The head holds the last acknowledged write of every block.
	readChunks(t, v, buf)
	for lba, seq := range acked {
		if _, got, _, ok := parseStamp(buf[lba*bs : (lba+1)*bs]); !ok || got != seq {
			t.Errorf("volume block %d: write %d (ok %v), want %d", lba, got, ok, seq)
		}
	}
	s.checkAccounting("end")
}

func stamp(b []byte, w, seq, lba uint64) {
	for i := 0; i < len(b); i += 32 {
		binary.LittleEndian.PutUint64(b[i:], w+1)
		binary.LittleEndian.PutUint64(b[i+8:], seq)
		binary.LittleEndian.PutUint64(b[i+16:], lba)
		binary.LittleEndian.PutUint64(b[i+24:], uint64(i))
	}
}

func parseStamp(b []byte) (w, seq, lba uint64, ok bool) {
	w1, seq, lba := binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:]), binary.LittleEndian.Uint64(b[16:])
	if w1 == 0 {
		return 0, 0, 0, false
	}
	want := make([]byte, len(b))
	stamp(want, w1-1, seq, lba)
	return w1 - 1, seq, lba, bytes.Equal(b, want)
}

// TestSnapshotCostDoesNotScaleWithSize: a snapshot of a 100 GiB volume with
// a few MiB written costs what one of a 1 GiB volume does: the same
// metadata writes, no block copied, and no per-block memory.
func TestSnapshotCostDoesNotScaleWithSize(t *testing.T) {
	s := newStack(t)
	type cost struct {
		keys  int
		slots uint64
		alloc uint64
	}
	measure := func(sizeGiB int64) cost {
		id := s.createVolume(sizeGiB, true, "")
		v := s.attach(id)
		p := fill(1, 0, 1<<20)
		for off := 0; off < 4<<20; off += len(p) {
			writeAt(t, v, p, off)
		}
		writeAt(t, v, p[:bs], int(sizeGiB<<30-bs)) // and the last block
		if err := v.Sync(); err != nil {
			t.Fatal(err)
		}
		keys, used := s.metaKeys(), s.usedBlocks()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		s.snapshot(id)
		runtime.ReadMemStats(&m1)
		c := cost{keys: diffKeys(keys, s.metaKeys()), slots: s.usedBlocks() - used, alloc: m1.TotalAlloc - m0.TotalAlloc}
		t.Logf("%d GiB: %d metadata keys written, %d slots taken, %d KiB allocated", sizeGiB, c.keys, c.slots, c.alloc>>10)
		return c
	}
	small, large := measure(1), measure(100)
	if small.keys != large.keys || large.keys > 4 {
		t.Errorf("a snapshot wrote %d metadata keys for 1 GiB and %d for 100 GiB; want the same few", small.keys, large.keys)
	}
	if small.slots != 0 || large.slots != 0 {
		t.Errorf("a snapshot took %d slots (1 GiB) and %d (100 GiB); want none", small.slots, large.slots)
	}
	// A walk over every block of 100 GiB would allocate hundreds of MiB.
	if large.alloc > 32<<20 {
		t.Errorf("a snapshot of a 100 GiB volume allocated %d MiB", large.alloc>>20)
	}
}

// metaKeys is every key and value of the metadata DB.
func (s *stack) metaKeys() map[string]string {
	s.t.Helper()
	out := map[string]string{}
	err := s.meta.View(func(tx *kv.Txn) error {
		return tx.Scan(nil, nil, func(k, v []byte) error { out[string(k)] = string(v); return nil })
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return out
}

func diffKeys(a, b map[string]string) int {
	n := 0
	for k, v := range b {
		if w, ok := a[k]; !ok || w != v {
			n++
		}
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			n++
		}
	}
	return n
}

// bigSnapshot is a snapshot of an encrypted volume with mib MiB written, so
// that a re-encrypting copy of it takes a while; and its first bytes.
func bigSnapshot(t *testing.T, s *stack, mib int) (snapID string, head []byte) {
	t.Helper()
	id := s.createVolume(1, true, "")
	v := s.attach(id)
	p := fill(7, 0, 1<<20)
	for off := 0; off < mib<<20; off += len(p) {
		writeAt(t, v, p, off)
	}
	snapID = s.snapshot(id)
	s.detach(id)
	s.deleteVolume(id)
	return snapID, p
}

// waitNoCopies waits until no copy runs in the background.
func (s *stack) waitNoCopies() {
	s.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for s.snaps.run.copies() > 0 {
		if time.Now().After(deadline) {
			s.t.Fatal("copies still running after a minute")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestCopyInProgress: while a re-encrypting copy runs, the copy (pending)
// cannot be copied (IncorrectState) and its source cannot be deleted
// (ErrSnapshotInUse); once it completes, both can.
func TestCopyInProgress(t *testing.T) {
	s := newStack(t)
	other := s.createKey("other")
	src, head := bigSnapshot(t, s, 8)
	out, err := s.snaps.CopySnapshot(s.ctx, &CopySnapshotInput{SourceSnapshotID: src, Encrypted: ptr(true), KmsKeyID: other})
	if err != nil {
		t.Fatal(err)
	}
	_, copyErr := s.snaps.CopySnapshot(s.ctx, &CopySnapshotInput{SourceSnapshotID: out.SnapshotID})
	_, delErr := s.snaps.DeleteSnapshot(s.ctx, &SnapshotIDInput{SnapshotID: src})
	stillPending := s.describe(out.SnapshotID).State == statePending
	if copyErr == nil && delErr == nil && !stillPending {
		t.Skip("the copy completed before the checks: nothing to test")
	}
	if !isKind(copyErr, blockdev.ErrIncorrectState) {
		t.Errorf("copy of a pending copy: %v, want IncorrectState", copyErr)
	}
	if !isKind(delErr, ErrSnapshotInUse) {
		t.Errorf("delete of a snapshot being copied: %v, want ErrSnapshotInUse", delErr)
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
// right contents and no blocks left over from the interrupted attempt.
func TestCopyResumesAfterRestart(t *testing.T) {
	s := newStack(t)
	other := s.createKey("other")
	src, head := bigSnapshot(t, s, 4)
	out, err := s.snaps.CopySnapshot(s.ctx, &CopySnapshotInput{SourceSnapshotID: src, Encrypted: ptr(true), KmsKeyID: other})
	if err != nil {
		t.Fatal(err)
	}
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

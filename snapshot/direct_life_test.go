package snapshot

import (
	"bytes"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestDirectRestartResume: a daemon restart in the middle of an upload
// keeps the blocks put and their checksums; the upload goes on and
// completes with the aggregate of every block.
func TestDirectRestartResume(t *testing.T) {
	s := newStack(t)
	id := s.start(&StartSnapshotInput{VolumeSize: 1, Encrypted: ptr(true)}).SnapshotID
	blocks := map[int64][]byte{0: directBlock(1), 9: directBlock(2)}
	s.put(id, 0, blocks[0])
	s.put(id, 9, blocks[9])
	s.reopen()
	if d := s.describe(id); d.State != statePending {
		t.Fatalf("after a restart the upload is %s", d.State)
	}
	blocks[4] = directBlock(3)
	s.put(id, 4, blocks[4])
	s.complete(id, blocks)
	_, tokens := s.listed(id)
	for i, want := range blocks {
		if got := s.getBlock(id, i, tokens[i]); !bytes.Equal(got, want) {
			t.Errorf("block %d: %s", i, firstDiff(got, want))
		}
	}
	if idx := s.sums(id); len(idx) != 0 {
		t.Errorf("a completed upload keeps checksums of blocks %v", idx)
	}
	s.checkAccounting("after the resumed upload")
}

// TestDirectTimeout: an upload left alone for its Timeout goes to the
// error state and frees its blocks, whether it is open or (after a
// restart) not; puts restart the timeout.
func TestDirectTimeout(t *testing.T) {
	s := newStack(t)
	base := s.usedBlocks()
	id := s.start(&StartSnapshotInput{VolumeSize: 1, Timeout: ptr(int64(10))}).SnapshotID
	s.put(id, 0, directBlock(1))
	s.clock.Advance(9 * time.Minute)
	s.put(id, 1, directBlock(2)) // restarts the timeout
	s.clock.Advance(9 * time.Minute)
	s.put(id, 2, directBlock(3))
	if s.usedBlocks() == base {
		t.Fatal("the puts stored nothing")
	}
	s.clock.Advance(11 * time.Minute)
	_, err := s.snaps.PutSnapshotBlock(s.ctx, putInput(id, 3, directBlock(4)))
	mustFail(t, "put after the timeout", err, ErrValidation)
	if d := s.describe(id); d.State != stateError || d.StateMessage == "" {
		t.Errorf("timed-out upload: state %s %q, want error", d.State, d.StateMessage)
	}
	if used := s.usedBlocks(); used != base {
		t.Errorf("a timed-out upload keeps %d blocks", used-base)
	}
	if idx := s.sums(id); len(idx) != 0 {
		t.Errorf("a timed-out upload keeps checksums of blocks %v", idx)
	}
	s.deleteSnapshot(id)

	// Not open (a restart), found by DescribeSnapshots.
	id = s.start(&StartSnapshotInput{VolumeSize: 1, Timeout: ptr(int64(10))}).SnapshotID
	s.put(id, 0, directBlock(1))
	s.reopen()
	s.clock.Advance(11 * time.Minute)
	if d := s.describe(id); d.State != stateError {
		t.Errorf("timed-out upload after a restart: %s, want error", d.State)
	}
	if used := s.usedBlocks(); used != base {
		t.Errorf("a timed-out upload keeps %d blocks after a restart", used-base)
	}
	s.checkAccounting("after the timeouts")
}

// TestDirectDeletePending: deleting a pending upload frees its blocks.
func TestDirectDeletePending(t *testing.T) {
	s := newStack(t)
	base := s.usedBlocks()
	id := s.start(&StartSnapshotInput{VolumeSize: 1, Encrypted: ptr(true)}).SnapshotID
	s.put(id, 0, directBlock(1))
	s.put(id, 1, directBlock(2))
	s.deleteSnapshot(id)
	if used := s.usedBlocks(); used != base {
		t.Errorf("a deleted upload keeps %d blocks", used-base)
	}
	if idx := s.sums(id); len(idx) != 0 {
		t.Errorf("a deleted upload keeps checksums of blocks %v", idx)
	}
	_, err := s.snaps.PutSnapshotBlock(s.ctx, putInput(id, 2, directBlock(3)))
	mustFail(t, "put to a deleted upload", err, ErrResourceNotFound)
	s.checkAccounting("after deleting an upload")
}

// TestDirectParent: an incremental upload (ParentSnapshotId) shares the
// blocks it does not write with its parent, and the parent's data key;
// ListChangedBlocks between them is the blocks written.
func TestDirectParent(t *testing.T) {
	for _, enc := range []bool{false, true} {
		s := newStack(t)
		var parentIn StartSnapshotInput
		parentIn.VolumeSize = 1
		if enc {
			parentIn.Encrypted = ptr(true)
		}
		pblocks := map[int64][]byte{0: directBlock(1), 1: directBlock(2), 2: directBlock(3), 3: directBlock(4)}
		parent := s.upload(&parentIn, pblocks)
		before := s.usedBlocks()
		child := s.start(&StartSnapshotInput{VolumeSize: 2, ParentSnapshotID: parent})
		if child.ParentSnapshotID != parent || (child.SseType == sseKMS) != enc {
			t.Errorf("encrypted=%t: child %+v", enc, child)
		}
		cblocks := map[int64][]byte{1: directBlock(5), 3000: directBlock(6)}
		for i, b := range cblocks {
			s.put(child.SnapshotID, i, b)
		}
		s.complete(child.SnapshotID, cblocks)
		if grew := s.usedBlocks() - before; grew != 2*blocksPerDirect {
			t.Errorf("encrypted=%t: the incremental upload stored %d 4 KiB blocks, want %d", enc, grew, 2*blocksPerDirect)
		}
		p, c := s.describe(parent), s.describe(child.SnapshotID)
		if p.DataEncryptionKeyID != c.DataEncryptionKeyID || c.Encrypted != enc {
			t.Errorf("encrypted=%t: parent data key %q, child %q (encrypted %t)", enc, p.DataEncryptionKeyID, c.DataEncryptionKeyID, c.Encrypted)
		}
		want := map[int64][]byte{0: pblocks[0], 1: cblocks[1], 2: pblocks[2], 3: pblocks[3], 3000: cblocks[3000]}
		idx, tokens := s.listed(child.SnapshotID)
		if !slices.Equal(idx, sortedKeys(want)) {
			t.Errorf("encrypted=%t: child blocks %v, want %v", enc, idx, sortedKeys(want))
		}
		for i, w := range want {
			if got := s.getBlock(child.SnapshotID, i, tokens[i]); !bytes.Equal(got, w) {
				t.Errorf("encrypted=%t: child block %d: %s", enc, i, firstDiff(got, w))
			}
		}
		changed, err := s.snaps.ListChangedBlocks(s.ctx, &ListChangedBlocksInput{FirstSnapshotID: parent, SecondSnapshotID: child.SnapshotID})
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, b := range changed.ChangedBlocks {
			got = append(got, b.BlockIndex)
		}
		if !slices.Equal(got, []int64{1, 3000}) {
			t.Errorf("encrypted=%t: ListChangedBlocks(parent, child) = %v, want [1 3000]", enc, got)
		}
		// The parent can go: the child keeps what it shares.
		s.deleteSnapshot(parent)
		buf := s.restore(child.SnapshotID, make([]byte, 4*directBlockSize))
		for i := range int64(4) {
			if w := want[i]; !bytes.Equal(buf[i*directBlockSize:(i+1)*directBlockSize], w) {
				t.Errorf("encrypted=%t: restored child block %d differs", enc, i)
			}
		}
		s.checkAccounting("after the incremental upload")
	}
}

// TestDirectParentRules: the encryption rules with a parent snapshot.
func TestDirectParentRules(t *testing.T) {
	s := newStack(t)
	plain := s.upload(&StartSnapshotInput{VolumeSize: 1}, map[int64][]byte{0: directBlock(1)})
	enc := s.upload(&StartSnapshotInput{VolumeSize: 1, Encrypted: ptr(true)}, map[int64][]byte{0: directBlock(1)})
	other := s.createKey("other")
	for name, in := range map[string]*StartSnapshotInput{
		"encrypted parent, Encrypted=false":  {VolumeSize: 1, ParentSnapshotID: enc, Encrypted: ptr(false)},
		"encrypted parent, another key":      {VolumeSize: 1, ParentSnapshotID: enc, KmsKeyArn: other},
		"unencrypted parent, Encrypted=true": {VolumeSize: 1, ParentSnapshotID: plain, Encrypted: ptr(true)},
		"unencrypted parent, a key":          {VolumeSize: 1, ParentSnapshotID: plain, KmsKeyArn: other},
		"smaller than the parent":            {VolumeSize: 1, ParentSnapshotID: s.upload(&StartSnapshotInput{VolumeSize: 2}, nil)},
	} {
		_, err := s.snaps.StartSnapshot(s.ctx, in)
		mustFail(t, name, err, ErrValidation)
	}
	if out := s.start(&StartSnapshotInput{VolumeSize: 1, ParentSnapshotID: enc, Encrypted: ptr(true)}); out.SseType != sseKMS {
		t.Errorf("encrypted parent with Encrypted=true: %+v", out)
	}
	// Encryption by default refuses an unencrypted parent and encrypts
	// snapshots without one.
	if _, err := s.vols.SetEncryptionByDefault(s.ctx, true); err != nil {
		t.Fatal(err)
	}
	_, err := s.snaps.StartSnapshot(s.ctx, &StartSnapshotInput{VolumeSize: 1, ParentSnapshotID: plain})
	mustFail(t, "unencrypted parent under encryption by default", err, ErrValidation)
	if out := s.start(&StartSnapshotInput{VolumeSize: 1}); out.SseType != sseKMS || out.KmsKeyArn == "" {
		t.Errorf("encryption by default: %+v", out)
	}
}

// TestDirectDeleteWhilePutting deletes an upload while blocks are being
// put: every put either lands before the delete (and is freed with it) or
// is refused; no block is left behind.
func TestDirectDeleteWhilePutting(t *testing.T) {
	s := newStack(t)
	base := s.usedBlocks()
	id := s.start(&StartSnapshotInput{VolumeSize: 1, Encrypted: ptr(true)}).SnapshotID
	s.put(id, 0, directBlock(1))
	var wg sync.WaitGroup
	for g := range int64(4) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < 2048; i += 4 {
				if _, err := s.snaps.PutSnapshotBlock(s.ctx, putInput(id, i, directBlock(uint64(i+1)))); err != nil {
					if !isKind(err, ErrResourceNotFound) && !isKind(err, ErrValidation) {
						t.Errorf("put %d: %v", i, err)
					}
					return
				}
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	s.deleteSnapshot(id)
	wg.Wait()
	if used := s.usedBlocks(); used != base {
		t.Errorf("%d blocks left after deleting an upload being written", used-base)
	}
	if idx := s.sums(id); len(idx) != 0 {
		t.Errorf("checksums left for blocks %v", idx)
	}
	s.checkAccounting("after deleting an upload being written")
}

package snapshot

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestDirectRoundTrip uploads blocks (one all zero) with PutSnapshotBlock,
// completes with the LINEAR aggregate, and reads them back three ways:
// ListSnapshotBlocks + GetSnapshotBlock, the store view, and a volume
// restored from the snapshot.
func TestDirectRoundTrip(t *testing.T) {
	for _, enc := range []bool{false, true} {
		t.Run(fmt.Sprintf("encrypted=%t", enc), func(t *testing.T) {
			s := newStack(t)
			in := &StartSnapshotInput{VolumeSize: 1, Description: "upload", Tags: []Tag{{Key: "k", Value: "v"}}}
			if enc {
				in.Encrypted = ptr(true)
			}
			blocks := map[int64][]byte{0: directBlock(1), 3: directBlock(2), 5: directBlock(0), 7: directBlock(3), 2047: directBlock(4)}
			started := s.start(in)
			if started.Status != statePending || started.BlockSize != 524288 || started.VolumeSize != 1 || started.OwnerID != testAccount {
				t.Fatalf("start: %+v", started)
			}
			if wantSSE := map[bool]string{true: "sse-kms", false: "none"}[enc]; started.SseType != wantSSE || (started.KmsKeyArn != "") != enc {
				t.Errorf("start: SseType %q KmsKeyArn %q, want %q and a key only if encrypted", started.SseType, started.KmsKeyArn, wantSSE)
			}
			id := started.SnapshotID
			if d := s.describe(id); d.State != statePending || d.VolumeID != "vol-ffffffff" {
				t.Errorf("pending upload described as %+v", d)
			}
			for _, i := range sortedKeys(blocks) {
				s.put(id, i, blocks[i])
			}
			s.put(id, 7, blocks[7]) // written twice: counted once
			s.complete(id, blocks)

			d := s.describe(id)
			if d.State != stateCompleted || d.VolumeID != "vol-ffffffff" || d.Encrypted != enc || d.VolumeSize != 1 || len(d.Tags) != 1 {
				t.Errorf("completed upload described as %+v", d)
			}
			idx, tokens := s.listed(id)
			if !slices.Equal(idx, sortedKeys(blocks)) {
				t.Errorf("ListSnapshotBlocks: %v, want %v (the zero block too)", idx, sortedKeys(blocks))
			}
			for i, want := range blocks {
				if got := s.getBlock(id, i, tokens[i]); !bytes.Equal(got, want) {
					t.Errorf("GetSnapshotBlock %d: %s", i, firstDiff(got, want))
				}
			}
			want := make([]byte, 4<<20)
			for i, b := range blocks {
				if i < 8 {
					copy(want[i*directBlockSize:], b)
				}
			}
			if got := s.readSnapshot(id, make([]byte, len(want))); !bytes.Equal(got, want) {
				t.Errorf("store view: %s", firstDiff(got, want))
			}
			if got := s.restore(id, make([]byte, len(want))); !bytes.Equal(got, want) {
				t.Errorf("restored volume: %s", firstDiff(got, want))
			}
			s.checkAccounting("after the round trip")
		})
	}
}

// TestDirectReadVolumeSnapshot reads a snapshot taken of a volume block by
// block and compares it with the volume.
func TestDirectReadVolumeSnapshot(t *testing.T) {
	s := newStack(t)
	vol := s.createVolume(1, true, "")
	v := s.attach(vol)
	data := directBlock(9)[:3*4096+100]
	if _, err := v.WriteAt(data, 5*directBlockSize+4096); err != nil {
		t.Fatal(err)
	}
	snap := s.snapshot(vol)
	idx, tokens := s.listed(snap)
	if !slices.Equal(idx, []int64{5}) {
		t.Fatalf("blocks of the volume's snapshot: %v, want [5]", idx)
	}
	want := make([]byte, directBlockSize)
	if _, err := v.ReadAt(want, 5*directBlockSize); err != nil {
		t.Fatal(err)
	}
	if got := s.getBlock(snap, 5, tokens[5]); !bytes.Equal(got, want) {
		t.Errorf("block 5: %s", firstDiff(got, want))
	}
	s.detach(vol)
}

func TestDirectBadInput(t *testing.T) {
	s := newStack(t)
	ctx := s.ctx
	for name, in := range map[string]*StartSnapshotInput{
		"size 0":            {VolumeSize: 0},
		"size 16385":        {VolumeSize: 16385},
		"timeout 9":         {VolumeSize: 1, Timeout: ptr(int64(9))},
		"timeout 4321":      {VolumeSize: 1, Timeout: ptr(int64(4321))},
		"key not an ARN":    {VolumeSize: 1, KmsKeyArn: "alias/aws/ebs"},
		"key unencrypted":   {VolumeSize: 1, KmsKeyArn: s.createKey("k"), Encrypted: ptr(false)},
		"tag aws:":          {VolumeSize: 1, Tags: []Tag{{Key: "aws:x"}}},
		"parent not a snap": {VolumeSize: 1, ParentSnapshotID: "vol-1"},
	} {
		_, err := s.snaps.StartSnapshot(ctx, in)
		mustFail(t, name, err, ErrValidation)
	}
	_, err := s.snaps.StartSnapshot(ctx, &StartSnapshotInput{VolumeSize: 1, ParentSnapshotID: "snap-0123456789abcdef0"})
	mustFail(t, "unknown parent", err, ErrResourceNotFound)

	id := s.start(&StartSnapshotInput{VolumeSize: 1}).SnapshotID
	good := directBlock(5)
	bad := func(name string, kind error, edit func(in *PutSnapshotBlockInput)) {
		t.Helper()
		in := putInput(id, 1, good)
		edit(in)
		_, err := s.snaps.PutSnapshotBlock(ctx, in)
		mustFail(t, name, err, kind)
	}
	bad("wrong checksum", ErrInvalidParameterValue, func(in *PutSnapshotBlockInput) { in.Checksum = sum64(directBlock(6)) })
	bad("checksum not base64", ErrInvalidParameterValue, func(in *PutSnapshotBlockInput) { in.Checksum = "%%%" })
	bad("short block", ErrInvalidParameterValue, func(in *PutSnapshotBlockInput) {
		in.BlockData = good[:4096]
		in.DataLength, in.Checksum = 4096, sum64(in.BlockData)
	})
	bad("length header", ErrInvalidParameterValue, func(in *PutSnapshotBlockInput) { in.DataLength = 4096 })
	bad("algorithm", ErrInvalidParameterValue, func(in *PutSnapshotBlockInput) { in.ChecksumAlgorithm = "MD5" })
	bad("progress", ErrInvalidParameterValue, func(in *PutSnapshotBlockInput) { in.Progress = ptr(int64(101)) })
	bad("index past the end", ErrInvalidBlock, func(in *PutSnapshotBlockInput) { in.BlockIndex = 2048 })
	bad("negative index", ErrInvalidBlock, func(in *PutSnapshotBlockInput) { in.BlockIndex = -1 })
	bad("unknown snapshot", ErrSnapshotMissing, func(in *PutSnapshotBlockInput) { in.SnapshotID = "snap-0123456789abcdef0" })
	if idx := s.sums(id); len(idx) != 0 {
		t.Fatalf("refused puts left checksums for blocks %v", idx)
	}

	s.put(id, 1, good)
	_, err = s.snaps.GetSnapshotBlock(ctx, &GetSnapshotBlockInput{SnapshotID: id, BlockIndex: 1, BlockToken: "x"})
	mustFail(t, "read a pending snapshot", err, ErrValidation)
	_, err = s.snaps.CompleteSnapshot(ctx, &CompleteSnapshotInput{SnapshotID: id, ChangedBlocksCount: 2})
	mustFail(t, "complete with the wrong count", err, ErrInvalidParameterValue)
	_, err = s.snaps.CompleteSnapshot(ctx, &CompleteSnapshotInput{SnapshotID: id, ChangedBlocksCount: 1,
		Checksum: sum64(good), ChecksumAlgorithm: ChecksumSHA256, ChecksumAggregationMethod: AggregationLinear})
	mustFail(t, "complete with the wrong aggregate", err, ErrInvalidParameterValue)
	_, err = s.snaps.CompleteSnapshot(ctx, &CompleteSnapshotInput{SnapshotID: id, ChangedBlocksCount: 1,
		Checksum: linear(map[int64][]byte{1: good}), ChecksumAlgorithm: ChecksumSHA256})
	mustFail(t, "complete without the aggregation method", err, ErrInvalidParameterValue)
	s.complete(id, map[int64][]byte{1: good})
	_, err = s.snaps.PutSnapshotBlock(ctx, putInput(id, 2, good))
	mustFail(t, "put to a completed snapshot", err, ErrValidation)
	_, err = s.snaps.CompleteSnapshot(ctx, &CompleteSnapshotInput{SnapshotID: id, ChangedBlocksCount: 1})
	mustFail(t, "complete twice", err, ErrValidation)

	// Block tokens: another snapshot's, another block's, an expired one.
	other := s.upload(&StartSnapshotInput{VolumeSize: 1}, map[int64][]byte{1: good})
	_, tokens := s.listed(other)
	_, err = s.snaps.GetSnapshotBlock(ctx, &GetSnapshotBlockInput{SnapshotID: id, BlockIndex: 1, BlockToken: tokens[1]})
	mustFail(t, "another snapshot's token", err, ErrInvalidBlockToken)
	_, err = s.snaps.GetSnapshotBlock(ctx, &GetSnapshotBlockInput{SnapshotID: other, BlockIndex: 2, BlockToken: tokens[1]})
	mustFail(t, "another block's token", err, ErrInvalidBlockToken)
	s.getBlock(other, 1, tokens[1])
	s.clock.Advance(7*24*time.Hour + time.Minute)
	_, err = s.snaps.GetSnapshotBlock(ctx, &GetSnapshotBlockInput{SnapshotID: other, BlockIndex: 1, BlockToken: tokens[1]})
	mustFail(t, "an expired token", err, ErrInvalidBlockToken)
}

func TestDirectClientToken(t *testing.T) {
	s := newStack(t)
	in := &StartSnapshotInput{VolumeSize: 2, ClientToken: "tok-1", Description: "a"}
	first := s.start(in)
	again := s.start(&StartSnapshotInput{VolumeSize: 2, ClientToken: "tok-1", Description: "a"})
	if again.SnapshotID != first.SnapshotID {
		t.Errorf("the same ClientToken gave %s then %s", first.SnapshotID, again.SnapshotID)
	}
	_, err := s.snaps.StartSnapshot(s.ctx, &StartSnapshotInput{VolumeSize: 3, ClientToken: "tok-1"})
	mustFail(t, "ClientToken reused with other parameters", err, ErrConflict)
}

// TestDirectConcurrentPuts puts blocks from many goroutines (distinct
// blocks succeed; a block put twice at once is refused or serialised).
func TestDirectConcurrentPuts(t *testing.T) {
	s := newStack(t)
	id := s.start(&StartSnapshotInput{VolumeSize: 1, Encrypted: ptr(true)}).SnapshotID
	blocks := map[int64][]byte{}
	for i := range int64(32) {
		blocks[i*3] = directBlock(uint64(i + 10))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*len(blocks))
	for i, b := range blocks {
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := s.snaps.PutSnapshotBlock(s.ctx, putInput(id, i, b)); err != nil && !isKind(err, ErrConflictingBlock) {
					errs <- err
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	s.complete(id, blocks)
	_, tokens := s.listed(id)
	for i, want := range blocks {
		if got := s.getBlock(id, i, tokens[i]); !bytes.Equal(got, want) {
			t.Errorf("block %d: %s", i, firstDiff(got, want))
		}
	}
}

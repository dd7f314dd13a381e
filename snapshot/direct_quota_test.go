package snapshot

import (
	"testing"
	"time"
)

// TestPendingUploadQuota: an account has at most maxPendingUploads (AWS's
// 100) pending uploads; one more StartSnapshot gets
// ConcurrentLimitExceededException. A retry with the ClientToken of a
// started upload still answers; completing, deleting or timing out an
// upload frees its place, and a snapshot that is not an upload (a volume's)
// does not take one.
func TestPendingUploadQuota(t *testing.T) {
	s := newStack(t)
	vol := s.createVolume(1, false, "")
	s.snapshot(vol)
	var ids []string
	for i := range maxPendingUploads {
		in := &StartSnapshotInput{VolumeSize: 1, Timeout: ptr(int64(10))}
		if i == 0 {
			in.ClientToken = "first"
		}
		ids = append(ids, s.start(in).SnapshotID)
	}
	_, err := s.snaps.StartSnapshot(s.ctx, &StartSnapshotInput{VolumeSize: 1})
	mustFail(t, "one upload over the quota", err, ErrConcurrentLimitExceeded)
	if out, err := s.snaps.StartSnapshot(s.ctx, &StartSnapshotInput{VolumeSize: 1, Timeout: ptr(int64(10)), ClientToken: "first"}); err != nil || out.SnapshotID != ids[0] {
		t.Fatalf("retry of a started upload at the quota: %v, %v", out, err)
	}

	s.put(ids[0], 0, directBlock(1))
	s.complete(ids[0], map[int64][]byte{0: directBlock(1)})
	ids[0] = s.start(&StartSnapshotInput{VolumeSize: 1}).SnapshotID
	_, err = s.snaps.StartSnapshot(s.ctx, &StartSnapshotInput{VolumeSize: 1})
	mustFail(t, "at the quota again after a completion", err, ErrConcurrentLimitExceeded)

	s.deleteSnapshot(ids[1])
	ids[1] = s.start(&StartSnapshotInput{VolumeSize: 1}).SnapshotID
	_, err = s.snaps.StartSnapshot(s.ctx, &StartSnapshotInput{VolumeSize: 1})
	mustFail(t, "at the quota again after a deletion", err, ErrConcurrentLimitExceeded)

	// The 98 uploads with a 10-minute timeout time out: StartSnapshot ends
	// them itself, before the sweep does.
	s.clock.Advance(11 * time.Minute)
	for range maxPendingUploads - 2 {
		s.start(&StartSnapshotInput{VolumeSize: 1})
	}
	if d := s.describe(ids[2]); d.State != stateError {
		t.Errorf("an upload past its timeout is %s, want error", d.State)
	}
	_, err = s.snaps.StartSnapshot(s.ctx, &StartSnapshotInput{VolumeSize: 1})
	mustFail(t, "at the quota after the timeouts", err, ErrConcurrentLimitExceeded)
}

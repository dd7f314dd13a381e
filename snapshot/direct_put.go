package snapshot

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/ebs-dev/ebs/blockdev"
	"github.com/ebs-dev/ebs/internal/awserr"
	"github.com/ebs-dev/ebs/internal/kv"
)

// PutSnapshotBlock writes one 512 KiB block of a pending snapshot: the data
// must match its SHA-256 checksum; each 4 KiB block is encrypted with the
// snapshot's data key (tweak: its block number, as on a volume) and
// written to the head of the snapshot's lineage. When it returns, the block
// and its checksum are durable: a restart keeps the upload resumable. A
// block written again replaces the earlier data.
func (s *Service) PutSnapshotBlock(ctx context.Context, in *PutSnapshotBlockInput) (*PutSnapshotBlockOutput, error) {
	sum, err := checkPut(in)
	if err != nil {
		return nil, err
	}
	r, u, err := s.pendingUpload(in.SnapshotID)
	if err != nil {
		return nil, err
	}
	blocks := uint64(r.Source.SizeGiB) << 30 / directBlockSize
	if in.BlockIndex < 0 || uint64(in.BlockIndex) >= blocks {
		return nil, awserr.New(ErrInvalidBlock, "Block index %d is beyond the end of the %d GiB snapshot (blocks 0-%d).", in.BlockIndex, r.Source.SizeGiB, blocks-1)
	}
	c, release, err := s.cipherFor(ctx, r)
	if err != nil {
		return nil, err
	}
	defer release()
	u.mu.RLock()
	defer u.mu.RUnlock()
	if u.done {
		return nil, s.notPending(in.SnapshotID)
	}
	if !u.claim(in.BlockIndex) {
		return nil, awserr.New(ErrConflictingBlock, "Another PutSnapshotBlock for block %d of %s is in progress.", in.BlockIndex, r.ID)
	}
	defer u.unclaim(in.BlockIndex)
	if err := s.writeBlock(u, c, in.BlockIndex, in.BlockData); err != nil {
		return nil, fmt.Errorf("put block %d of %s: %w", in.BlockIndex, r.ID, err)
	}
	now := s.cfg.Clock.Now()
	if err := s.recordPut(r.ID, in.BlockIndex, sum, now); err != nil {
		return nil, fmt.Errorf("put block %d of %s: %w", in.BlockIndex, r.ID, err)
	}
	u.touch(now, in.Progress)
	return &PutSnapshotBlockOutput{Checksum: in.Checksum, ChecksumAlgorithm: ChecksumSHA256}, nil
}

// checkPut validates a block and its checksum, and returns the SHA-256.
func checkPut(in *PutSnapshotBlockInput) ([sha256.Size]byte, error) {
	var none [sha256.Size]byte
	if in.DataLength != directBlockSize || len(in.BlockData) != directBlockSize {
		return none, awserr.New(ErrInvalidParameterValue, "The data length must be %d bytes (x-amz-Data-Length %d, %d bytes of data).",
			directBlockSize, in.DataLength, len(in.BlockData))
	}
	if in.ChecksumAlgorithm != ChecksumSHA256 {
		return none, awserr.New(ErrInvalidParameterValue, "The checksum algorithm '%s' is not supported: use SHA256.", in.ChecksumAlgorithm)
	}
	if in.Progress != nil && (*in.Progress < 0 || *in.Progress > 100) {
		return none, awserr.New(ErrInvalidParameterValue, "Progress %d is not valid: it must be between 0 and 100.", *in.Progress)
	}
	want, err := base64.StdEncoding.DecodeString(in.Checksum)
	if err != nil || len(want) != sha256.Size {
		return none, awserr.New(ErrInvalidParameterValue, "The checksum '%s' is not a base64-encoded SHA-256 digest.", in.Checksum)
	}
	sum := sha256.Sum256(in.BlockData)
	if !bytes.Equal(sum[:], want) {
		return none, awserr.New(ErrInvalidParameterValue, "The checksum of the block data does not match the checksum '%s' sent with it.", in.Checksum)
	}
	return sum, nil
}

// writeBlock encrypts (if c is set) and writes a 512 KiB block into the
// upload's lineage, then makes it durable.
func (s *Service) writeBlock(u *upload, c blockdev.SectorCipher, index int64, plain []byte) error {
	lba := uint64(index) * blocksPerDirect
	buf := make([]byte, directBlockSize)
	copy(buf, plain)
	if err := blockdev.EncryptBlocks(c, lba, buf); err != nil {
		return err
	}
	if err := u.lin.WriteBlocks(lba, buf); err != nil {
		return err
	}
	return u.lin.Flush()
}

// Checksums of the blocks put, kept until the upload ends:
// "u/" | snapshot id | "/" | block index (8, big endian) -> SHA-256 (32) | put time (8, unix ns).
const prefixUpload = "u/"

func sumPrefix(id string) []byte { return []byte(prefixUpload + id + "/") }

func sumKey(id string, index int64) []byte {
	return binary.BigEndian.AppendUint64(sumPrefix(id), uint64(index))
}

// recordPut keeps a block's checksum, durably. It is written after the
// block is durable, so a checksum never names data a crash lost.
func (s *Service) recordPut(id string, index int64, sum [sha256.Size]byte, at time.Time) error {
	val := binary.BigEndian.AppendUint64(sum[:], uint64(at.UnixNano()))
	if err := s.cfg.DB.Update(func(tx *kv.Txn) error { return tx.Set(sumKey(id, index), val) }); err != nil {
		return err
	}
	return s.dbSync.Do(s.cfg.DB.Sync)
}

// uploadSums reads the checksums of an upload's blocks in ascending block
// order: how many, the LINEAR aggregate of their digests, and the time of
// the last put.
func (s *Service) uploadSums(id string) (count int64, aggregate []byte, last time.Time, err error) {
	h := sha256.New()
	err = s.cfg.DB.View(func(tx *kv.Txn) error {
		return tx.Scan(sumPrefix(id), nil, func(_, v []byte) error {
			if len(v) != sha256.Size+8 {
				return fmt.Errorf("upload %s: checksum record of %d bytes", id, len(v))
			}
			count++
			h.Write(v[:sha256.Size])
			if t := time.Unix(0, int64(binary.BigEndian.Uint64(v[sha256.Size:]))).UTC(); t.After(last) {
				last = t
			}
			return nil
		})
	})
	return count, h.Sum(nil), last, err
}

// dropSums deletes an upload's checksums.
func (s *Service) dropSums(id string) error {
	var keys [][]byte
	err := s.cfg.DB.View(func(tx *kv.Txn) error {
		return tx.Scan(sumPrefix(id), nil, func(k, _ []byte) error {
			keys = append(keys, append([]byte(nil), k...))
			return nil
		})
	})
	if err != nil || len(keys) == 0 {
		return err
	}
	return s.cfg.DB.WriteBatch(func(b *kv.Batch) error {
		for _, k := range keys {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

// CompleteSnapshot seals a pending upload: ChangedBlocksCount must be the
// number of blocks put, and the aggregate checksum, if given, must match.
// The lineage is frozen and the snapshot pins its view, as CreateSnapshot
// does; the snapshot is completed when this returns.
func (s *Service) CompleteSnapshot(ctx context.Context, in *CompleteSnapshotInput) (*CompleteSnapshotOutput, error) {
	want, err := checkComplete(in)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, u, err := s.pendingUploadLocked(in.SnapshotID)
	if err != nil {
		return nil, err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.done {
		return nil, s.notPending(r.ID)
	}
	count, agg, _, err := s.uploadSums(r.ID)
	if err != nil {
		return nil, err
	}
	if count != in.ChangedBlocksCount {
		return nil, awserr.New(ErrInvalidParameterValue, "ChangedBlocksCount is %d, but %d blocks were written to %s.", in.ChangedBlocksCount, count, r.ID)
	}
	if want != nil && !bytes.Equal(want, agg) {
		return nil, awserr.New(ErrInvalidParameterValue, "The aggregate checksum '%s' does not match the %d blocks written to %s.", in.Checksum, count, r.ID)
	}
	if err := s.seal(r, u); err != nil {
		return nil, fmt.Errorf("complete snapshot %s: %w", r.ID, err)
	}
	return &CompleteSnapshotOutput{Status: stateCompleted}, nil
}

func checkComplete(in *CompleteSnapshotInput) ([]byte, error) {
	if in.ChangedBlocksCount < 0 {
		return nil, awserr.New(ErrInvalidParameterValue, "ChangedBlocksCount %d is not valid.", in.ChangedBlocksCount)
	}
	if in.Checksum == "" {
		return nil, nil
	}
	if in.ChecksumAlgorithm != ChecksumSHA256 {
		return nil, awserr.New(ErrInvalidParameterValue, "The checksum algorithm '%s' is not supported: use SHA256.", in.ChecksumAlgorithm)
	}
	if in.ChecksumAggregationMethod != AggregationLinear {
		return nil, awserr.New(ErrInvalidParameterValue, "The checksum aggregation method '%s' is not supported: use LINEAR.", in.ChecksumAggregationMethod)
	}
	want, err := base64.StdEncoding.DecodeString(in.Checksum)
	if err != nil || len(want) != sha256.Size {
		return nil, awserr.New(ErrInvalidParameterValue, "The checksum '%s' is not a base64-encoded SHA-256 digest.", in.Checksum)
	}
	return want, nil
}

// seal freezes the upload's lineage (every block durable, the head moved
// on) and, in the same metadata transaction, pins the frozen view for the
// snapshot and marks it completed; then it drops the upload's own pin and
// checksums. s.mu and u.mu are held.
func (s *Service) seal(r *record, u *upload) error {
	err := u.lin.Freeze(func(gen uint64) error {
		done := *r
		done.State, done.Upload, done.Source.Gen = stateCompleted, nil, gen
		err := s.cfg.DB.Update(func(tx *kv.Txn) error {
			if err := s.cfg.Store.PinInTx(tx, r.Source.Lineage, gen, r.ID); err != nil {
				return err
			}
			if err := s.unpinUpload(tx, r.ID, r.Source.Lineage); err != nil {
				return err
			}
			return save(tx, &done)
		})
		if err != nil {
			return err
		}
		*r = done
		return s.cfg.DB.Sync()
	})
	if err != nil {
		return err
	}
	s.forget(r.ID, u)
	return s.released(r.ID)
}

// forget closes an upload's lineage and drops it from memory; u.mu is held
// (and taken before s.up.mu, the lock order of doc.go).
func (s *Service) forget(id string, u *upload) {
	u.done = true
	if err := u.lin.Close(); err != nil {
		s.cfg.Logger.Error("close upload lineage", "snapshot", id, "err", err)
	}
	s.up.mu.Lock()
	delete(s.up.m, id)
	s.up.ended[id] = true
	s.up.mu.Unlock()
}

// unpinUpload drops, in the transaction that ends an upload's record, the
// pin the upload held on its lineage's head.
func (s *Service) unpinUpload(tx *kv.Txn, id string, lineage uint64) error {
	return s.cfg.Store.UnpinInTx(tx, lineage, headGen, uploadHolder(id))
}

// released frees what an ended upload no longer needs, once the transaction
// that ended it (and dropped its pin) is committed: the blocks no snapshot
// pins, and its checksums. A crash before leaves both to Start.
func (s *Service) released(id string) error {
	s.collect("upload " + id + " ended")
	return s.dropSums(id)
}

// pendingUpload returns a pending upload's record and open state; an upload
// past its timeout is ended (error state, blocks freed) first.
func (s *Service) pendingUpload(id string) (*record, *upload, error) {
	r, u, err := s.openPending(id)
	if errors.Is(err, errTimedOut) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if xerr := s.expireLocked(id); xerr != nil {
			return nil, nil, xerr
		}
		return nil, nil, s.notPending(id)
	}
	return r, u, err
}

// pendingUploadLocked is pendingUpload with s.mu held.
func (s *Service) pendingUploadLocked(id string) (*record, *upload, error) {
	r, u, err := s.openPending(id)
	if errors.Is(err, errTimedOut) {
		if xerr := s.expireLocked(id); xerr != nil {
			return nil, nil, xerr
		}
		return nil, nil, s.notPending(id)
	}
	return r, u, err
}

var errTimedOut = errors.New("upload timed out")

func (s *Service) openPending(id string) (*record, *upload, error) {
	r, err := s.get(id)
	if errors.Is(err, ErrSnapshotNotFound) {
		return nil, nil, awserr.New(ErrSnapshotMissing, "The snapshot '%s' does not exist.", id)
	}
	if err != nil {
		return nil, nil, err
	}
	if r.Upload == nil || r.State != statePending {
		return nil, nil, s.stateError(r)
	}
	u, err := s.openUpload(r)
	if errors.Is(err, errEnded) {
		return nil, nil, s.notPending(id)
	}
	if err != nil {
		return nil, nil, err
	}
	if s.cfg.Clock.Now().After(r.deadline(u.lastActivity())) {
		return nil, nil, errTimedOut
	}
	return r, u, nil
}

func (s *Service) notPending(id string) error {
	r, err := s.get(id)
	if errors.Is(err, ErrSnapshotNotFound) {
		return awserr.New(ErrSnapshotMissing, "The snapshot '%s' does not exist.", id)
	}
	if err != nil {
		return err
	}
	return s.stateError(r)
}

func (s *Service) stateError(r *record) error {
	msg := ""
	if r.StateMessage != "" {
		msg = " (" + r.StateMessage + ")"
	}
	switch {
	case r.State == statePending && r.Upload != nil:
		return awserr.New(ErrValidation, "Snapshot '%s' is being completed or deleted.", r.ID)
	case r.State == statePending:
		return awserr.New(ErrValidation, "Snapshot '%s' is being copied: blocks can be written only to a snapshot started with StartSnapshot.", r.ID)
	}
	return awserr.New(ErrValidation, "Snapshot '%s' is in the '%s' state%s: blocks can be written only to a pending snapshot.", r.ID, r.State, msg)
}

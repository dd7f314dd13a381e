package snapshot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ebs-dev/ebs/blockdev"
	"github.com/ebs-dev/ebs/blockdev/store"
	"github.com/ebs-dev/ebs/internal/awserr"
	"github.com/ebs-dev/ebs/internal/awstime"
	"github.com/ebs-dev/ebs/internal/kv"
)

// uploadSpec is what a snapshot being written through the EBS direct APIs
// keeps until CompleteSnapshot: the blocks themselves are in its lineage,
// their checksums under prefixUpload.
type uploadSpec struct {
	TimeoutMinutes int64 `json:"timeoutMinutes"`
}

// uploadHolder pins an upload's lineage at its head while it is pending.
func uploadHolder(id string) string { return "upload:" + id }

// StartSnapshot begins a snapshot written block by block (PutSnapshotBlock,
// then CompleteSnapshot): a pending snapshot backed by a new lineage, empty
// or reading through to ParentSnapshotId's view, so that an incremental
// upload shares the blocks it does not write. An encrypted parent's data
// key is shared (re-wrapped for the new snapshot, as AWS shares a data key
// along a lineage); otherwise an encrypted snapshot gets a new data key
// under KmsKeyArn or the default EBS key. A repeated ClientToken returns the
// first call's snapshot.
func (s *Service) StartSnapshot(ctx context.Context, in *StartSnapshotInput) (*StartSnapshotOutput, error) {
	timeout, err := checkStart(in)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	recs, err := s.all()
	if err != nil {
		return nil, err
	}
	if out, err := s.startedBefore(in, recs); out != nil || err != nil {
		return out, err
	}
	if err := s.checkPendingQuota(recs); err != nil {
		return nil, err
	}
	var parent *record
	if in.ParentSnapshotID != "" {
		if parent, err = s.uploadParent(in); err != nil {
			return nil, err
		}
	}
	r := &record{ID: newID("snap-"), Description: in.Description, Start: s.cfg.Clock.Now(), State: statePending,
		Tags: in.Tags, Parent: in.ParentSnapshotID, ClientToken: in.ClientToken, Request: requestDigest(in),
		Upload: &uploadSpec{TimeoutMinutes: timeout}}
	r.Source = blockdev.SourceInfo{VolumeID: uploadVolumeID, SizeGiB: in.VolumeSize}
	if err := s.uploadKey(ctx, r, in, parent); err != nil {
		return nil, err
	}
	if err := s.newUploadLineage(r, parent); err != nil {
		return nil, err
	}
	return s.startOutput(r), nil
}

func checkStart(in *StartSnapshotInput) (int64, error) {
	if in.VolumeSize < 1 || in.VolumeSize > maxUploadGiB {
		return 0, awserr.New(ErrInvalidVolumeSize, "The volume size %d GiB is not valid: it must be between 1 and %d GiB here "+
			"(a snapshot must restore to a volume, and volumes are at most %d GiB).", in.VolumeSize, maxUploadGiB, maxUploadGiB)
	}
	timeout := int64(defaultTimeoutMinutes)
	if in.Timeout != nil {
		timeout = *in.Timeout
	}
	if timeout < minTimeout || timeout > maxTimeout {
		return 0, awserr.New(ErrInvalidParameterValue, "Timeout %d is not valid: it must be between %d and %d minutes.", timeout, minTimeout, maxTimeout)
	}
	if len(in.Description) > 255 {
		return 0, awserr.New(ErrInvalidParameterValue, "The description is longer than 255 characters.")
	}
	if len(in.ClientToken) > 255 {
		return 0, awserr.New(ErrInvalidParameterValue, "The client token is longer than 255 characters.")
	}
	if in.ParentSnapshotID != "" && !strings.HasPrefix(in.ParentSnapshotID, "snap-") {
		return 0, awserr.New(ErrInvalidSnapshotID, "The parent snapshot id '%s' is not valid.", in.ParentSnapshotID)
	}
	if in.KmsKeyArn != "" && (!strings.HasPrefix(in.KmsKeyArn, "arn:") || !strings.Contains(in.KmsKeyArn, ":kms:")) {
		return 0, awserr.New(ErrInvalidParameterValue, "KmsKeyArn '%s' is not the ARN of a KMS key.", in.KmsKeyArn)
	}
	return timeout, checkTags(in.Tags)
}

func checkTags(tags []Tag) error {
	if len(tags) > 50 {
		return awserr.New(ErrInvalidTag, "A snapshot can have at most 50 tags; %d were given.", len(tags))
	}
	for _, t := range tags {
		if t.Key == "" || len(t.Key) > 127 || len(t.Value) > 255 || strings.HasPrefix(strings.ToLower(t.Key), "aws:") {
			return awserr.New(ErrInvalidTag, "The tag '%s' is not valid: keys are 1-127 characters, not starting with 'aws:', values at most 255.", t.Key)
		}
	}
	return nil
}

// requestDigest identifies a StartSnapshot request's parameters, so that a
// ClientToken reused with other parameters is refused.
func requestDigest(in *StartSnapshotInput) string {
	c := *in
	c.ClientToken = ""
	raw, _ := json.Marshal(c)
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

// startedBefore returns the snapshot an earlier StartSnapshot with the same
// ClientToken made (ConflictException if its parameters differ).
func (s *Service) startedBefore(in *StartSnapshotInput, recs []*record) (*StartSnapshotOutput, error) {
	if in.ClientToken == "" {
		return nil, nil
	}
	for _, r := range recs {
		if r.ClientToken != in.ClientToken {
			continue
		}
		if r.Request != requestDigest(in) {
			return nil, awserr.New(ErrConflict, "The client token '%s' was used by an earlier StartSnapshot with other parameters (snapshot %s).", in.ClientToken, r.ID)
		}
		return s.startOutput(r), nil
	}
	return nil, nil
}

// maxPendingUploads is AWS's quota "Pending snapshots per account" of the
// EBS direct APIs (L-94D7AB7D: 100, not adjustable). It also bounds what
// pending uploads hold: an open lineage, its block map, a data key.
const maxPendingUploads = 100

// checkPendingQuota refuses a new upload when the account has
// maxPendingUploads pending ones (ConcurrentLimitExceededException, as
// StartSnapshot answers). At the quota, uploads past their timeout are
// ended first, as the sweep would have ended them. s.mu is held.
func (s *Service) checkPendingQuota(recs []*record) error {
	if countPendingUploads(recs) < maxPendingUploads {
		return nil
	}
	now := s.cfg.Clock.Now()
	for _, r := range recs {
		due, err := s.uploadDue(r, now)
		if err != nil {
			return err
		}
		if due {
			if err := s.expireLocked(r.ID); err != nil {
				return err
			}
		}
	}
	recs, err := s.all()
	if err != nil {
		return err
	}
	if n := countPendingUploads(recs); n >= maxPendingUploads {
		return awserr.New(ErrConcurrentLimitExceeded, "The account has %d pending snapshots, its limit: complete or delete one "+
			"(or let one time out) before starting another.", n)
	}
	return nil
}

func countPendingUploads(recs []*record) int {
	n := 0
	for _, r := range recs {
		if r.Upload != nil && r.State == statePending {
			n++
		}
	}
	return n
}

func (s *Service) uploadParent(in *StartSnapshotInput) (*record, error) {
	parent, err := s.get(in.ParentSnapshotID)
	if errors.Is(err, ErrSnapshotNotFound) {
		return nil, awserr.New(ErrSnapshotMissing, "The parent snapshot '%s' does not exist.", in.ParentSnapshotID)
	}
	if err != nil {
		return nil, err
	}
	if parent.State != stateCompleted {
		return nil, awserr.New(ErrInvalidSnapshotID, "The parent snapshot '%s' is in the '%s' state: it must be completed.", parent.ID, parent.State)
	}
	if in.VolumeSize < parent.Source.SizeGiB {
		return nil, awserr.New(ErrInvalidVolumeSize, "The volume size %d GiB is smaller than the parent snapshot's %d GiB.", in.VolumeSize, parent.Source.SizeGiB)
	}
	return parent, nil
}

// uploadKey gives a new upload its encryption, with the rules of AWS's
// "Encryption outcomes for EBS direct APIs": an unencrypted parent gives an
// unencrypted snapshot (refused under encryption by default, or with a
// key); an encrypted parent's key and data key are kept (another key is
// refused); without a parent, Encrypted, a KmsKeyArn or encryption by
// default encrypt under KmsKeyArn or the default key. Encrypted may be
// given with a parent only if it agrees with the parent's encryption.
func (s *Service) uploadKey(ctx context.Context, r *record, in *StartSnapshotInput, parent *record) error {
	keyCtx := map[string]string{"aws:ebs:id": r.ID}
	byDefault, err := s.cfg.Volumes.GetEncryptionByDefault(ctx)
	if err != nil {
		return err
	}
	if parent != nil {
		return s.keyFromParent(ctx, r, in, parent, byDefault.EbsEncryptionByDefault, keyCtx)
	}
	enc := (in.Encrypted != nil && *in.Encrypted) || in.KmsKeyArn != "" || byDefault.EbsEncryptionByDefault
	if in.Encrypted != nil && !*in.Encrypted && in.KmsKeyArn != "" && !byDefault.EbsEncryptionByDefault {
		return awserr.New(ErrInvalidParameterValue, "KmsKeyArn cannot be given with Encrypted set to false.")
	}
	if !enc {
		return nil
	}
	_, keyID, err := s.cfg.Volumes.EncryptionFor(ptrTrue(), in.KmsKeyArn)
	if err != nil {
		return err
	}
	arn, blob, err := s.cfg.Volumes.NewDataKey(ctx, keyID, keyCtx)
	if err != nil {
		return err
	}
	r.Source.Encrypted, r.Source.KmsKeyArn, r.Source.WrappedKey, r.Source.KeyContext = true, arn, blob, keyCtx
	r.Source.DataKeyID = newID("dek-")
	return nil
}

func ptrTrue() *bool { t := true; return &t }

func (s *Service) keyFromParent(ctx context.Context, r *record, in *StartSnapshotInput, parent *record, byDefault bool, keyCtx map[string]string) error {
	p := parent.Source
	if in.Encrypted != nil && *in.Encrypted != p.Encrypted {
		return awserr.New(ErrInvalidParameterValue, "Encrypted=%t contradicts the parent snapshot %s, which is %s: omit Encrypted with a ParentSnapshotId.",
			*in.Encrypted, parent.ID, map[bool]string{true: "encrypted", false: "unencrypted"}[p.Encrypted])
	}
	if !p.Encrypted {
		if byDefault || in.KmsKeyArn != "" {
			return awserr.New(ErrInvalidParameterValue, "The parent snapshot %s is unencrypted: an encrypted snapshot cannot extend it "+
				"(encryption by default is on, or a KmsKeyArn was given). Copy the parent with encryption first.", parent.ID)
		}
		r.Source.DataKeyID = p.DataKeyID
		return nil
	}
	if in.KmsKeyArn != "" && in.KmsKeyArn != p.KmsKeyArn && s.cfg.Volumes.KeyArn(ctx, in.KmsKeyArn) != p.KmsKeyArn {
		return awserr.New(ErrInvalidParameterValue, "The parent snapshot %s is encrypted under %s: an incremental snapshot keeps its parent's KMS key.", parent.ID, p.KmsKeyArn)
	}
	arn, blob, err := s.cfg.Volumes.Rewrap(ctx, p.WrappedKey, p.KeyContext, p.KmsKeyArn, keyCtx)
	if err != nil {
		return err
	}
	r.Source.Encrypted, r.Source.KmsKeyArn, r.Source.WrappedKey, r.Source.KeyContext = true, arn, blob, keyCtx
	r.Source.DataKeyID = p.DataKeyID
	return nil
}

// newUploadLineage makes the upload's lineage (a child of the parent's
// view, if any), pins its head for the upload and saves the record, the pin
// and the record in one transaction.
func (s *Service) newUploadLineage(r *record, parent *record) error {
	var pl, pg uint64
	if parent != nil {
		pl, pg = parent.Source.Lineage, parent.Source.Gen
	}
	err := s.cfg.DB.Update(func(tx *kv.Txn) error {
		lin, err := s.cfg.Store.NewLineageInTx(tx, pl, pg)
		if err != nil {
			return err
		}
		r.Source.Lineage = lin
		if err := s.cfg.Store.PinInTx(tx, lin, store.HeadGen, uploadHolder(r.ID)); err != nil {
			return err
		}
		return save(tx, r)
	})
	if err == nil {
		err = s.cfg.DB.Sync()
	}
	if err != nil {
		return fmt.Errorf("start snapshot %s: %w", r.ID, err)
	}
	return nil
}

func (s *Service) startOutput(r *record) *StartSnapshotOutput {
	out := &StartSnapshotOutput{SnapshotID: r.ID, Status: r.State, BlockSize: directBlockSize, VolumeSize: r.Source.SizeGiB,
		SseType: sseNone, OwnerID: s.cfg.Account, StartTime: awstime.New(r.Start), ParentSnapshotID: r.Parent,
		Description: r.Description, Tags: r.Tags}
	if r.Source.Encrypted {
		out.KmsKeyArn, out.SseType = r.Source.KmsKeyArn, sseKMS
	}
	return out
}

// deadline is when a pending upload times out: Timeout minutes after its
// start or its last block.
func (r *record) deadline(last time.Time) time.Time {
	if last.Before(r.Start) {
		last = r.Start
	}
	return last.Add(time.Duration(r.Upload.TimeoutMinutes) * time.Minute)
}

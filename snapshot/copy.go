package snapshot

import (
	"context"
	"errors"
	"fmt"

	"github.com/ebs-dev/ebs/blockdev"
	"github.com/ebs-dev/ebs/internal/awserr"
	"github.com/ebs-dev/ebs/internal/kv"
)

// maxCopies is AWS's limit of snapshot copies in flight.
const maxCopies = 20

// copySpec is a pending copy, kept in its record so a restart resumes it.
type copySpec struct {
	Source    string `json:"source"`
	Encrypted bool   `json:"encrypted"`
	KeyID     string `json:"keyId,omitempty"`
	Lineage   uint64 `json:"lineage,omitempty"` // the new lineage being filled, if any
	Caller    caller `json:"caller"`
	// The source's view and key when the copy started, pinned for the copy
	// (sourceHolder) so that the source may be deleted meanwhile. Records
	// made before it existed have none: the copy reads and pins the source's
	// record when it resumes.
	From *blockdev.SourceInfo `json:"from,omitempty"`
}

func copyHolder(id string) string   { return "copy:" + id }
func sourceHolder(id string) string { return "copy-source:" + id }

// Close stops background work (a restart resumes pending copies) and waits.
func (s *Service) Close() error {
	s.run.stop()
	s.run.wg.Wait()
	return s.closeUploads()
}

// CopySnapshot starts a copy and returns at once with the new snapshot's
// id; the copy is pending, with rising progress, until completed (or
// error). An unencrypted source copied with Encrypted gets a new data key
// and every block encrypted; an encrypted source copied under its own key
// shares its blocks and data key (nothing is copied); under another key it
// gets a new data key and every block re-encrypted. A copy of an encrypted
// snapshot is always encrypted. The new record pins the source's view, in
// the transaction that saves it.
func (s *Service) CopySnapshot(ctx context.Context, in *CopySnapshotInput) (*CopySnapshotOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	src, err := s.get(in.SourceSnapshotID)
	if err != nil {
		return nil, err
	}
	if src.State != stateCompleted {
		return nil, awserr.New(blockdev.ErrIncorrectState, "Snapshot '%s' is in the '%s' state: only a completed snapshot can be copied.", src.ID, src.State)
	}
	enc, keyID, err := s.cfg.Volumes.EncryptionFor(in.Encrypted, in.KmsKeyID)
	if err != nil {
		return nil, err
	}
	if src.Source.Encrypted && in.KmsKeyID == "" {
		keyID = src.Source.KmsKeyArn
	}
	n := s.run.copies()
	if n >= maxCopies {
		return nil, awserr.New(ErrResourceLimitExceeded, "You have %d snapshot copies in progress; the limit is %d.", n, maxCopies)
	}
	desc := in.Description
	if desc == "" {
		desc = fmt.Sprintf("Copied for DestinationSnapshot from SourceSnapshot %s", src.ID)
	}
	from := src.Source
	r := &record{ID: newID("snap-"), Description: desc, Start: s.cfg.Clock.Now(), State: statePending, Full: src.Full,
		Source: blockdev.SourceInfo{VolumeID: src.Source.VolumeID, SizeGiB: src.Source.SizeGiB, Encrypted: enc || src.Source.Encrypted},
		Copy:   &copySpec{Source: src.ID, Encrypted: enc || src.Source.Encrypted, KeyID: keyID, Caller: callerOf(ctx), From: &from}}
	err = s.cfg.DB.Update(func(tx *kv.Txn) error {
		if err := s.cfg.Store.PinInTx(tx, from.Lineage, from.Gen, sourceHolder(r.ID)); err != nil {
			return err
		}
		return save(tx, r)
	})
	if err == nil {
		err = s.cfg.DB.Sync()
	}
	if err != nil {
		return nil, err
	}
	s.startCopy(r)
	return &CopySnapshotOutput{SnapshotID: r.ID}, nil
}

// startCopy runs a pending copy in the background. The copy owns r. A
// cancelled copy (DeleteSnapshot, Close) changes nothing: its record and
// pins stay for DeleteSnapshot to drop, or for the restart to resume.
func (s *Service) startCopy(r *record) {
	s.run.start(r.ID, r.Copy.Source, func(ctx context.Context) {
		err := s.copy(r.Copy.Caller.context(ctx), r)
		switch {
		case err == nil:
		case errors.Is(err, context.Canceled):
			s.cfg.Logger.Info("snapshot copy stopped", "snapshot", r.ID)
		default:
			s.cfg.Logger.Error("snapshot copy failed", "snapshot", r.ID, "err", err)
		}
	})
}

// copy does the work of a pending copy and records the outcome.
func (s *Service) copy(ctx context.Context, r *record) error {
	if err := s.pinSource(r); errors.Is(err, errSourceGone) {
		return s.fail(ctx, r, "The source snapshot no longer exists.", err)
	} else if err != nil {
		return err
	}
	if r.Copy.Lineage != 0 { // a restart interrupted an earlier attempt: start over
		if err := s.restartCopy(r); err != nil {
			return err
		}
	}
	src := *r.Copy.From
	keyCtx := map[string]string{"aws:ebs:id": r.ID}
	switch {
	case !r.Copy.Encrypted: // unencrypted to unencrypted: share the blocks
		return s.complete(r, src)
	case src.Encrypted && sameKey(ctx, s, r.Copy.KeyID, src.KmsKeyArn):
		arn, blob, err := s.cfg.Volumes.Rewrap(ctx, src.WrappedKey, src.KeyContext, src.KmsKeyArn, keyCtx)
		if err != nil {
			return s.fail(ctx, r, "Given key ID is not accessible", err)
		}
		shared := src
		shared.KmsKeyArn, shared.WrappedKey, shared.KeyContext = arn, blob, keyCtx
		return s.complete(r, shared)
	}
	return s.reencrypt(ctx, r, src, keyCtx)
}

func sameKey(ctx context.Context, s *Service, keyID, arn string) bool {
	return keyID == arn || s.cfg.Volumes.KeyArn(ctx, keyID) == arn
}

// pinSource gives a copy recorded before copies pinned their source (no
// From) its source's view, pinned, from the source's record.
func (s *Service) pinSource(r *record) error {
	if r.Copy.From != nil {
		return nil
	}
	return s.updateCopy(r, func(tx *kv.Txn) error {
		src, err := s.load(tx, r.Copy.Source)
		if errors.Is(err, ErrSnapshotNotFound) || (err == nil && src.State != stateCompleted) {
			return fmt.Errorf("%w: %s", errSourceGone, r.Copy.Source)
		}
		if err != nil {
			return err
		}
		r.Copy.From = &src.Source
		return s.cfg.Store.PinInTx(tx, src.Source.Lineage, src.Source.Gen, sourceHolder(r.ID))
	})
}

var errSourceGone = errors.New("the source snapshot no longer exists")

// restartCopy drops the lineage an interrupted attempt was filling.
func (s *Service) restartCopy(r *record) error {
	lin := r.Copy.Lineage
	err := s.updateCopy(r, func(tx *kv.Txn) error {
		r.Copy.Lineage = 0
		return s.cfg.Store.UnpinInTx(tx, lin, 1, copyHolder(r.ID))
	})
	if err == nil {
		s.collectLocked("copy " + r.ID + " restarted")
	}
	return err
}

// reencrypt copies every block into a new lineage under a new data key.
func (s *Service) reencrypt(ctx context.Context, r *record, src blockdev.SourceInfo, keyCtx map[string]string) error {
	arn, blob, err := s.cfg.Volumes.NewDataKey(ctx, r.Copy.KeyID, keyCtx)
	if err != nil {
		return s.fail(ctx, r, "Given key ID is not accessible", err)
	}
	var lin uint64
	err = s.updateCopy(r, func(tx *kv.Txn) error {
		if lin, err = s.cfg.Store.NewLineageInTx(tx, 0, 0); err != nil {
			return err
		}
		r.Copy.Lineage = lin
		return s.cfg.Store.PinInTx(tx, lin, 1, copyHolder(r.ID))
	})
	if err != nil {
		return err
	}
	var copied uint64
	blocks := uint64(src.SizeGiB) << 30 / blockdev.BlockSize
	err = s.cfg.Volumes.CopyInto(ctx, src, lin, arn, blob, keyCtx, blocks, func(done, total uint64) {
		copied = total
		s.run.setProgress(r.ID, done, total)
	})
	if err != nil {
		return s.fail(ctx, r, "Given key ID is not accessible", err)
	}
	if r.Full == nil {
		n := int64(copied) * blockdev.BlockSize
		r.Full = &n
	}
	out := blockdev.SourceInfo{VolumeID: src.VolumeID, SizeGiB: src.SizeGiB, Lineage: lin, Gen: 1,
		Encrypted: true, KmsKeyArn: arn, WrappedKey: blob, KeyContext: keyCtx, DataKeyID: newID("dek-")}
	return s.complete(r, out)
}

// updateCopy saves a pending copy's record after fn, in fn's transaction
// (which pins or unpins what the change needs), unless the record was
// deleted meanwhile, which it reports as context.Canceled.
func (s *Service) updateCopy(r *record, fn func(tx *kv.Txn) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.cfg.DB.Update(func(tx *kv.Txn) error {
		if _, err := s.load(tx, r.ID); err != nil {
			return err
		}
		if err := fn(tx); err != nil {
			return err
		}
		return save(tx, r)
	})
	if errors.Is(err, ErrSnapshotNotFound) {
		return context.Canceled
	}
	if err != nil {
		return err
	}
	return s.cfg.DB.Sync()
}

// complete marks a copy completed with the view src, in one transaction:
// the view pinned for the snapshot, and the copy's own pins (its source,
// the lineage it filled) dropped.
func (s *Service) complete(r *record, src blockdev.SourceInfo) error {
	err := s.updateCopy(r, func(tx *kv.Txn) error {
		if err := s.cfg.Store.PinInTx(tx, src.Lineage, src.Gen, r.ID); err != nil {
			return err
		}
		if err := s.unpinCopy(tx, r); err != nil {
			return err
		}
		r.Source, r.State, r.Copy = src, stateCompleted, nil
		return nil
	})
	if err == nil {
		s.collectLocked("copy " + r.ID + " completed")
	}
	return err
}

// fail ends a copy in the error state with AWS's message, dropping its
// pins in the same transaction; the cause is logged. A copy stopped by
// DeleteSnapshot or Close is not failed: it only stops.
func (s *Service) fail(ctx context.Context, r *record, msg string, cause error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := s.updateCopy(r, func(tx *kv.Txn) error {
		if err := s.unpinCopy(tx, r); err != nil {
			return err
		}
		r.State, r.StateMessage, r.Copy = stateError, msg, nil
		return nil
	})
	if err != nil {
		return err
	}
	s.collectLocked("copy " + r.ID + " failed")
	return fmt.Errorf("%s: %w", msg, cause)
}

// unpinCopy drops, in tx, the pins a pending copy holds: its source's view
// and the lineage it is filling.
func (s *Service) unpinCopy(tx *kv.Txn, r *record) error {
	c := r.Copy
	if c == nil {
		return nil
	}
	if c.From != nil {
		if err := s.cfg.Store.UnpinInTx(tx, c.From.Lineage, c.From.Gen, sourceHolder(r.ID)); err != nil {
			return err
		}
	}
	if c.Lineage != 0 {
		return s.cfg.Store.UnpinInTx(tx, c.Lineage, 1, copyHolder(r.ID))
	}
	return nil
}

// collectLocked is collect with s.mu taken.
func (s *Service) collectLocked(what string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.collect(what)
}

// Start frees what a crash left to free, resumes the copies and
// encrypt-volume tasks a restart interrupted, and starts the timeouts of
// pending uploads (which stay resumable).
func (s *Service) Start(ctx context.Context) error {
	if err := s.cfg.Store.Collect(); err != nil {
		return err
	}
	if err := s.dropStaleSums(); err != nil {
		return err
	}
	s.startSweeper()
	recs, err := s.all()
	if err != nil {
		return err
	}
	for _, r := range recs {
		if r.State == statePending && r.Copy != nil {
			s.cfg.Logger.Info("resuming snapshot copy", "snapshot", r.ID, "source", r.Copy.Source)
			s.startCopy(r)
		}
	}
	return s.resumeTasks(ctx)
}

// RewrapSnapshot keeps a snapshot's data key and re-wraps it under another
// CMK with ReEncrypt: instant, metadata only.
func (s *Service) RewrapSnapshot(ctx context.Context, in *RewrapSnapshotInput) (*Snapshot, error) {
	r, err := s.rewrap(ctx, in)
	if err != nil {
		return nil, err
	}
	return s.info(r)
}

func (s *Service) rewrap(ctx context.Context, in *RewrapSnapshotInput) (*record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.get(in.SnapshotID)
	if err != nil {
		return nil, err
	}
	if r.State != stateCompleted || !r.Source.Encrypted {
		return nil, awserr.New(blockdev.ErrIncorrectState, "Snapshot '%s' must be completed and encrypted to re-wrap its key.", r.ID)
	}
	if in.KmsKeyID == "" {
		return nil, awserr.New(blockdev.ErrMissingParameter, "The request must contain the parameter KmsKeyId.")
	}
	keyCtx := map[string]string{"aws:ebs:id": r.ID}
	arn, blob, err := s.cfg.Volumes.Rewrap(ctx, r.Source.WrappedKey, r.Source.KeyContext, in.KmsKeyID, keyCtx)
	if err != nil {
		return nil, err
	}
	r.Source.KmsKeyArn, r.Source.WrappedKey, r.Source.KeyContext = arn, blob, keyCtx
	if err := s.put(r); err != nil {
		return nil, err
	}
	s.keys.drop(r.ID)
	return r, nil
}

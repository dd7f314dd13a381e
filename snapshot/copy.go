package snapshot

import (
	"context"
	"errors"
	"fmt"
	"sync"

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
}

// runner tracks background work: copies in flight and their progress.
type runner struct {
	mu   sync.Mutex
	jobs map[string]*job // by destination snapshot id
	ctx  context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup
}

type job struct {
	source   string
	progress int
	cancel   context.CancelFunc
}

func (r *runner) init() {
	r.jobs = map[string]*job{}
	r.ctx, r.stop = context.WithCancel(context.Background())
}

func (r *runner) progress(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if j := r.jobs[id]; j != nil {
		return j.progress
	}
	return 0
}

func (r *runner) copies() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, j := range r.jobs {
		if j.source != "" {
			n++
		}
	}
	return n
}

func (r *runner) copyingFrom(source string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, j := range r.jobs {
		if j.source == source {
			return id
		}
	}
	return ""
}

func (r *runner) cancel(id string) {
	r.mu.Lock()
	j := r.jobs[id]
	r.mu.Unlock()
	if j != nil {
		j.cancel()
	}
}

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
// snapshot is always encrypted.
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
	r := &record{ID: newID("snap-"), Description: desc, Start: s.cfg.Clock.Now(), State: statePending,
		Source: blockdev.SourceInfo{VolumeID: src.Source.VolumeID, SizeGiB: src.Source.SizeGiB, Encrypted: enc || src.Source.Encrypted},
		Copy:   &copySpec{Source: src.ID, Encrypted: enc || src.Source.Encrypted, KeyID: keyID, Caller: callerOf(ctx)}}
	if err := s.put(r); err != nil {
		return nil, err
	}
	s.startCopy(r)
	return &CopySnapshotOutput{SnapshotID: r.ID}, nil
}

func (s *Service) startCopy(r *record) {
	ctx, cancel := context.WithCancel(s.run.ctx)
	s.run.mu.Lock()
	s.run.jobs[r.ID] = &job{source: r.Copy.Source, cancel: cancel}
	s.run.mu.Unlock()
	s.run.wg.Add(1)
	go func() {
		defer s.run.wg.Done()
		defer cancel()
		err := s.copy(r.Copy.Caller.context(ctx), r)
		s.run.mu.Lock()
		delete(s.run.jobs, r.ID)
		s.run.mu.Unlock()
		switch {
		case err == nil:
		case errors.Is(err, context.Canceled):
			s.cfg.Logger.Info("snapshot copy stopped", "snapshot", r.ID)
		default:
			s.cfg.Logger.Error("snapshot copy failed", "snapshot", r.ID, "err", err)
		}
	}()
}

// copy does the work of a pending copy and records the outcome.
func (s *Service) copy(ctx context.Context, r *record) error {
	src, err := s.get(r.Copy.Source)
	if err != nil {
		return s.fail(r, "The source snapshot no longer exists.", err)
	}
	spec := r.Copy
	if spec.Lineage != 0 { // a restart interrupted an earlier attempt: start over
		if err := s.cfg.Store.Unpin(spec.Lineage, 1, copyHolder(r.ID)); err != nil {
			return err
		}
		spec.Lineage = 0
	}
	keyCtx := map[string]string{"aws:ebs:id": r.ID}
	switch {
	case !spec.Encrypted: // unencrypted to unencrypted: share the blocks
		return s.complete(r, src.Source)
	case src.Source.Encrypted && sameKey(ctx, s, spec.KeyID, src.Source.KmsKeyArn):
		arn, blob, err := s.cfg.Volumes.Rewrap(ctx, src.Source.WrappedKey, src.Source.KeyContext, src.Source.KmsKeyArn, keyCtx)
		if err != nil {
			return s.fail(r, "Given key ID is not accessible", err)
		}
		shared := src.Source
		shared.KmsKeyArn, shared.WrappedKey, shared.KeyContext = arn, blob, keyCtx
		return s.complete(r, shared)
	}
	return s.reencrypt(ctx, r, src, keyCtx)
}

func sameKey(ctx context.Context, s *Service, keyID, arn string) bool {
	return keyID == arn || s.cfg.Volumes.KeyArn(ctx, keyID) == arn
}

// reencrypt copies every block into a new lineage under a new data key.
func (s *Service) reencrypt(ctx context.Context, r *record, src *record, keyCtx map[string]string) error {
	arn, blob, err := s.cfg.Volumes.NewDataKey(ctx, r.Copy.KeyID, keyCtx)
	if err != nil {
		return s.fail(r, "Given key ID is not accessible", err)
	}
	lin, err := s.cfg.Store.NewLineage(0, 0)
	if err == nil {
		err = s.cfg.Store.Pin(lin, 1, copyHolder(r.ID))
	}
	if err != nil {
		return err
	}
	r.Copy.Lineage = lin
	if err := s.putIfExists(r); err != nil {
		s.cfg.Store.Unpin(lin, 1, copyHolder(r.ID))
		return err
	}
	blocks := uint64(src.Source.SizeGiB) << 30 / blockdev.BlockSize
	err = s.cfg.Volumes.CopyInto(ctx, src.Source, lin, arn, blob, keyCtx, blocks, func(done, total uint64) {
		s.setProgress(r.ID, done, total)
	})
	if err != nil {
		s.cfg.Store.Unpin(lin, 1, copyHolder(r.ID))
		if errors.Is(err, context.Canceled) {
			return err
		}
		return s.fail(r, "Given key ID is not accessible", err)
	}
	out := blockdev.SourceInfo{VolumeID: src.Source.VolumeID, SizeGiB: src.Source.SizeGiB, Lineage: lin, Gen: 1,
		Encrypted: true, KmsKeyArn: arn, WrappedKey: blob, KeyContext: keyCtx, DataKeyID: newID("dek-")}
	return s.complete(r, out)
}

func copyHolder(id string) string { return "copy:" + id }

// putIfExists saves a pending copy's record unless it was deleted
// (cancelled) meanwhile, which it reports as context.Canceled.
func (s *Service) putIfExists(r *record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.get(r.ID); err != nil {
		return context.Canceled
	}
	return s.put(r)
}

func (s *Service) setProgress(id string, done, total uint64) {
	s.run.mu.Lock()
	defer s.run.mu.Unlock()
	if j := s.run.jobs[id]; j != nil && total > 0 {
		j.progress = int(done * 99 / total)
	}
}

// complete pins the copy's view for it and marks it completed, unless it
// was deleted (cancelled) meanwhile.
func (s *Service) complete(r *record, src blockdev.SourceInfo) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.get(r.ID); err != nil {
		if src.Lineage != 0 && r.Copy.Lineage == src.Lineage {
			s.cfg.Store.Unpin(src.Lineage, src.Gen, copyHolder(r.ID))
		}
		return context.Canceled
	}
	copied := r.Copy.Lineage
	r.Source, r.State, r.Copy = src, stateCompleted, nil
	err := s.cfg.DB.Update(func(tx *kv.Txn) error {
		if err := s.cfg.Store.PinInTx(tx, src.Lineage, src.Gen, r.ID); err != nil {
			return err
		}
		return save(tx, r)
	})
	if err == nil {
		err = s.cfg.DB.Sync()
	}
	if err == nil && copied != 0 {
		err = s.cfg.Store.Unpin(copied, 1, copyHolder(r.ID))
	}
	return err
}

// fail ends a copy in the error state with AWS's message; the cause is
// logged.
func (s *Service) fail(r *record, msg string, cause error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.get(r.ID); err != nil {
		return context.Canceled
	}
	r.State, r.StateMessage, r.Copy = stateError, msg, nil
	if err := s.put(r); err != nil {
		return err
	}
	return fmt.Errorf("%s: %w", msg, cause)
}

// Start resumes the copies and encrypt-volume tasks a restart interrupted,
// and starts the timeouts of pending uploads (which stay resumable).
func (s *Service) Start(ctx context.Context) error {
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
	return s.info(r), nil
}

package snapshot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ebs-dev/ebs/blockdev"
	"github.com/ebs-dev/ebs/internal/awserr"
	"github.com/ebs-dev/ebs/internal/kv"
)

// Task states of encrypt-volume.
const (
	taskRunning   = "running"
	taskCompleted = "completed"
	taskFailed    = "failed"
	taskCleaned   = "cleaned-up"
)

// task is an encrypt-volume run: create-snapshot, copy-snapshot
// --encrypted, create-volume --snapshot-id. Each step's result is saved as
// soon as it exists, so a run interrupted by a restart resumes where it was.
type task struct {
	EncryptVolumeTask
	KmsKeyID string `json:"kmsKeyId,omitempty"`
	Caller   caller `json:"caller"`
}

const prefixTask = "t/encrypt/"

func (s *Service) loadTask(volumeID string) (*task, error) {
	raw, err := s.cfg.DB.Get([]byte(prefixTask + volumeID))
	if errors.Is(err, kv.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	t := new(task)
	return t, json.Unmarshal(raw, t)
}

func (s *Service) saveTask(t *task) error {
	raw, err := json.Marshal(t)
	if err != nil {
		return err
	}
	if err := s.cfg.DB.Update(func(tx *kv.Txn) error { return tx.Set([]byte(prefixTask+t.SourceVolumeID), raw) }); err != nil {
		return err
	}
	return s.cfg.DB.Sync()
}

// EncryptVolume makes an encrypted copy of an unencrypted volume and leaves
// the original untouched. Calling it again for the same volume reports (and,
// if it failed or was interrupted, resumes) the same task; Cleanup deletes
// what an unfinished task made. Calls are serialised (tasksMu), so that two
// concurrent calls never start two tasks for one volume.
func (s *Service) EncryptVolume(ctx context.Context, in *EncryptVolumeInput) (*EncryptVolumeTask, error) {
	if in.VolumeID == "" {
		return nil, awserr.New(blockdev.ErrMissingParameter, "The request must contain the parameter VolumeId.")
	}
	s.tasksMu.Lock()
	defer s.tasksMu.Unlock()
	if in.Cleanup {
		return s.cleanupTask(ctx, in.VolumeID)
	}
	running := s.run.running(taskJob(in.VolumeID)) // before the load: a task saves its end before it stops running
	t, err := s.loadTask(in.VolumeID)
	if err != nil {
		return nil, err
	}
	if t != nil && (t.State == taskCompleted || running) {
		return s.describeTask(t), nil
	}
	if t == nil || t.State == taskCleaned {
		vols, err := s.cfg.Volumes.Describe(ctx, &blockdev.DescribeVolumesInput{VolumeIDs: []string{in.VolumeID}})
		if err != nil {
			return nil, err
		}
		if vols.Volumes[0].Encrypted {
			return nil, awserr.New(blockdev.ErrIncorrectState, "Volume %s is already encrypted; to re-key it, copy a snapshot of it with --kms-key-id.", in.VolumeID)
		}
		t = &task{EncryptVolumeTask: EncryptVolumeTask{SourceVolumeID: in.VolumeID}, KmsKeyID: in.KmsKeyID}
	}
	t.State, t.Message, t.Caller = taskRunning, "", callerOf(ctx)
	if err := s.saveTask(t); err != nil {
		return nil, err
	}
	s.startTask(t)
	return s.describeTask(t), nil
}

// DescribeEncryptVolumeTask reports the encrypt-volume task of a volume.
func (s *Service) DescribeEncryptVolumeTask(ctx context.Context, in *EncryptVolumeInput) (*EncryptVolumeTask, error) {
	t, err := s.loadTask(in.VolumeID)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, awserr.New(blockdev.ErrVolumeNotFound, "No encrypt-volume task for volume '%s'.", in.VolumeID)
	}
	return s.describeTask(t), nil
}

func (s *Service) describeTask(t *task) *EncryptVolumeTask {
	out := t.EncryptVolumeTask
	switch {
	case t.State == taskCompleted:
		out.Progress = 100
	case t.State == taskRunning && t.EncryptedSnapshotID != "":
		out.Progress = 10 + s.run.progress(t.EncryptedSnapshotID)*8/10
		if r, err := s.get(t.EncryptedSnapshotID); err == nil && r.State == stateCompleted {
			out.Progress = 90
		}
	case t.State == taskRunning && t.SnapshotID != "":
		out.Progress = 10
	}
	return &out
}

func taskJob(volumeID string) string { return "task:" + volumeID }

// startTask runs a task in the background, on its own copy of t: the
// caller's t is not touched again. The task saves its outcome before it
// stops running.
func (s *Service) startTask(t *task) {
	own := *t
	s.run.start(taskJob(own.SourceVolumeID), "", func(ctx context.Context) {
		err := s.runTask(own.Caller.context(ctx), &own)
		if err == nil || errors.Is(err, context.Canceled) {
			return
		}
		own.State, own.Message = taskFailed, err.Error()
		if serr := s.saveTask(&own); serr != nil {
			s.cfg.Logger.Error("save encrypt-volume task", "err", serr)
		}
		s.cfg.Logger.Error("encrypt-volume failed", "volume", own.SourceVolumeID, "err", err)
	})
}

// runTask runs the steps not done yet.
func (s *Service) runTask(ctx context.Context, t *task) error {
	if t.SnapshotID == "" {
		snap, err := s.CreateSnapshot(ctx, &CreateSnapshotInput{VolumeID: t.SourceVolumeID, Description: "encrypt-volume of " + t.SourceVolumeID})
		if err != nil {
			return fmt.Errorf("create-snapshot: %w", err)
		}
		t.SnapshotID = snap.SnapshotID
		if err := s.saveTask(t); err != nil {
			return err
		}
	}
	if t.EncryptedSnapshotID == "" {
		yes := true
		cp, err := s.CopySnapshot(ctx, &CopySnapshotInput{SourceSnapshotID: t.SnapshotID, Encrypted: &yes, KmsKeyID: t.KmsKeyID,
			Description: "encrypt-volume of " + t.SourceVolumeID})
		if err != nil {
			return fmt.Errorf("copy-snapshot: %w", err)
		}
		t.EncryptedSnapshotID = cp.SnapshotID
		if err := s.saveTask(t); err != nil {
			return err
		}
	}
	if err := s.waitCompleted(ctx, t.EncryptedSnapshotID); err != nil {
		if ctx.Err() != nil {
			return err // stopped (a restart resumes the task and its copy)
		}
		// The copy failed (a disabled key, say): drop it, so that running
		// encrypt-volume again makes a new one.
		if _, derr := s.DeleteSnapshot(ctx, &SnapshotIDInput{SnapshotID: t.EncryptedSnapshotID}); derr == nil || errors.Is(derr, ErrSnapshotNotFound) {
			t.EncryptedSnapshotID = ""
			if serr := s.saveTask(t); serr != nil {
				return errors.Join(err, serr)
			}
		}
		return err
	}
	if t.VolumeID == "" {
		vol, err := s.CreateVolume(ctx, &blockdev.CreateVolumeInput{SnapshotID: t.EncryptedSnapshotID})
		if err != nil {
			return fmt.Errorf("create-volume: %w", err)
		}
		t.VolumeID = vol.VolumeID
	}
	t.State = taskCompleted
	return s.saveTask(t)
}

func (s *Service) waitCompleted(ctx context.Context, id string) error {
	for {
		r, err := s.get(id)
		if err != nil {
			return fmt.Errorf("copy-snapshot: %w", err)
		}
		switch r.State {
		case stateCompleted:
			return nil
		case stateError:
			return fmt.Errorf("copy-snapshot %s: %s", id, r.StateMessage)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// cleanupTask stops a volume's unfinished task and deletes the snapshots
// it made (deleting a pending copy cancels it). s.tasksMu is held.
func (s *Service) cleanupTask(ctx context.Context, volumeID string) (*EncryptVolumeTask, error) {
	if done := s.run.cancel(taskJob(volumeID)); done != nil {
		<-done // the task's last saved step is in its record
	}
	t, err := s.loadTask(volumeID)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, awserr.New(blockdev.ErrVolumeNotFound, "No encrypt-volume task for volume '%s'.", volumeID)
	}
	if t.State == taskCompleted {
		return nil, awserr.New(blockdev.ErrIncorrectState, "The encrypt-volume task of %s completed; there is nothing to clean up.", volumeID)
	}
	for _, id := range []string{t.EncryptedSnapshotID, t.SnapshotID} {
		if id == "" {
			continue
		}
		if _, err := s.DeleteSnapshot(ctx, &SnapshotIDInput{SnapshotID: id}); err != nil && !errors.Is(err, ErrSnapshotNotFound) {
			return nil, err
		}
	}
	t.State, t.SnapshotID, t.EncryptedSnapshotID, t.Message = taskCleaned, "", "", ""
	if err := s.saveTask(t); err != nil {
		return nil, err
	}
	return s.describeTask(t), nil
}

// resumeTasks restarts the tasks that were running when the daemon stopped.
func (s *Service) resumeTasks(ctx context.Context) error {
	return s.cfg.DB.View(func(tx *kv.Txn) error {
		return tx.Scan([]byte(prefixTask), nil, func(_, v []byte) error {
			t := new(task)
			if err := json.Unmarshal(v, t); err != nil {
				return err
			}
			if t.State == taskRunning {
				s.cfg.Logger.Info("resuming encrypt-volume", "volume", t.SourceVolumeID)
				s.startTask(t)
			}
			return nil
		})
	})
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// `ebs ec2 encrypt-volume`: the snapshot -> encrypted copy -> new volume
// workflow as one resumable daemon task, and --wait to follow it.

// Task states of EncryptVolume / DescribeEncryptVolumeTask.
const (
	taskRunning   = "running"
	taskCompleted = "completed"
	taskFailed    = "failed"
	taskCleanedUp = "cleaned-up"
)

// encryptTask is what --wait reads of the task.
type encryptTask struct {
	SourceVolumeID string  `json:"SourceVolumeId"`
	VolumeID       string  `json:"VolumeId"`
	State          string  `json:"State"`
	Progress       percent `json:"Progress"`
	Message        string  `json:"Message"`
}

func encryptVolumeCommand() commandSpec {
	return commandSpec{operation: "EncryptVolume",
		short: "Make an encrypted copy of a volume (snapshot, encrypted copy, new volume)",
		long: `Make an encrypted copy of a volume. A volume cannot be encrypted in place; this
runs, as one task in the daemon:

  create-snapshot --volume-id V
  copy-snapshot --source-snapshot-id S --encrypted [--kms-key-id K]
  create-volume --snapshot-id S2

and answers at once with the task: {SourceVolumeId, SnapshotId,
EncryptedSnapshotId, VolumeId, State (running, completed, failed or
cleaned-up), Progress (0-100), Message}. The new volume's id is VolumeId. The
original volume is left untouched: check the copy, then switch to it and delete
the original yourself.

Running it again for the same volume resumes the task (after a failure or a
daemon restart) or reports it. --cleanup deletes the intermediate snapshots of
an unfinished task instead. --wait follows the task to its end, showing a
progress bar when stderr is a terminal, prints the final task, and exits 255
with the task's Message if it fails.`,
		example: `  ebs ec2 encrypt-volume --volume-id vol-0123456789abcdef0 --kms-key-id alias/app --wait
  ebs ec2 encrypt-volume --volume-id vol-0123456789abcdef0 --wait --query VolumeId --output text
  ebs ec2 encrypt-volume --volume-id vol-0123456789abcdef0             # resume, or show the task
  ebs ec2 encrypt-volume --volume-id vol-0123456789abcdef0 --cleanup   # give up: delete its snapshots`,
		params: []param{ec2VolumeID().doc("the unencrypted volume to copy, vol-..."),
			str("KmsKeyId").doc("the KMS key of the copy (default: the default EBS key): key id, key ARN, alias/NAME or alias ARN"),
			boolean("Cleanup").doc("delete the intermediate snapshots of an unfinished task"),
			flagOnly("wait", kindBool).doc("wait until the task completes or fails, and print the final task"),
			flagOnly("timeout", kindString).doc("with --wait, give up waiting after this long, e.g. 2h (the task goes on)"),
		},
		prepare: checkEncryptVolumeFlags,
		then:    followEncryptVolume,
	}
}

// checkEncryptVolumeFlags rejects a bad --timeout before anything is sent.
func checkEncryptVolumeFlags(values map[string]any, _ *object) error {
	if _, err := waitTimeout(values); err != nil {
		return err
	}
	if _, ok := values["timeout"]; ok && values["wait"] != true {
		return usageErrorf("--timeout needs --wait")
	}
	return nil
}

// waitTimeout is --timeout, or 0 (no limit) when it is not given.
func waitTimeout(values map[string]any) (time.Duration, error) {
	s, ok := values["timeout"].(string)
	if !ok {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, usageErrorf("--timeout: invalid duration %q (use e.g. 90s, 30m, 2h)", s)
	}
	return d, nil
}

// followEncryptVolume, with --wait, polls DescribeEncryptVolumeTask until
// the task ends and returns its final answer; without, it returns raw.
func followEncryptVolume(ctx context.Context, a *app, values map[string]any, raw json.RawMessage) (json.RawMessage, error) {
	if values["wait"] != true {
		return raw, nil
	}
	timeout, _ := waitTimeout(values)
	source, _ := values["volume-id"].(string)
	bar := a.newProgressBar("encrypting " + source)
	defer bar.stop()
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	client := a.client()
	for {
		var task encryptTask
		if err := json.Unmarshal(raw, &task); err != nil {
			return nil, fmt.Errorf("decode EncryptVolume task: %w", err)
		}
		if task.SourceVolumeID != "" {
			source = task.SourceVolumeID
		}
		switch task.State {
		case taskCompleted, taskCleanedUp:
			bar.finish()
			return raw, nil
		case taskFailed:
			return nil, failuref("encrypt-volume of %s failed: %s (run 'ebs ec2 encrypt-volume --volume-id %s' again to resume, or add --cleanup to delete its snapshots)",
				source, task.Message, source)
		case "":
			return nil, fmt.Errorf("the encrypt-volume task of %s has no State: %s", source, raw)
		}
		bar.set(int(task.Progress))
		if !deadline.IsZero() && time.Now().After(deadline) {
			return nil, failuref("encrypt-volume of %s: still %s after %v; the task goes on in the daemon ('ebs ec2 encrypt-volume --volume-id %s' shows it)",
				source, task.State, timeout, source)
		}
		if err := pause(ctx, a.pollInterval); err != nil {
			return nil, stoppedWaiting(source, err)
		}
		var err error
		raw, err = client.Call(ctx, "ec2", "DescribeEncryptVolumeTask", object{{"VolumeId", source}})
		if err != nil {
			if ctx.Err() != nil {
				return nil, stoppedWaiting(source, ctx.Err())
			}
			return nil, err
		}
	}
}

func stoppedWaiting(source string, err error) error {
	if errors.Is(err, context.Canceled) {
		err = errors.New("interrupted")
	}
	return failuref("stopped waiting for encrypt-volume of %s (%v); the task goes on in the daemon ('ebs ec2 encrypt-volume --volume-id %s' shows it)",
		source, err, source)
}

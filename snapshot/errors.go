package snapshot

import "errors"

// Sentinel errors of the snapshot layer (the API maps them to EC2 codes).
var (
	ErrSnapshotNotFound      = errors.New("snapshot not found")
	ErrSnapshotInUse         = errors.New("snapshot in use")
	ErrResourceLimitExceeded = errors.New("resource limit exceeded")
	ErrInvalidBlockToken     = errors.New("invalid block token")
	ErrKeyInUse              = errors.New("key protects volumes or snapshots")
)

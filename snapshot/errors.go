package snapshot

import "errors"

// Sentinel errors of the snapshot layer (the API maps them to AWS codes).
var (
	ErrSnapshotNotFound      = errors.New("snapshot not found")
	ErrSnapshotInUse         = errors.New("snapshot in use")
	ErrResourceLimitExceeded = errors.New("resource limit exceeded")
	ErrInvalidBlockToken     = errors.New("invalid block token")
	// The EBS direct APIs answer with their own codes.
	ErrResourceNotFound = errors.New("resource not found")
	ErrValidation       = errors.New("validation error")
)

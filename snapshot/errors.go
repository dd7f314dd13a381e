package snapshot

import "errors"

// Sentinel errors of the snapshot layer (the API maps them to AWS codes).
var (
	ErrSnapshotNotFound      = errors.New("snapshot not found")
	ErrSnapshotInUse         = errors.New("snapshot in use")
	ErrResourceLimitExceeded = errors.New("resource limit exceeded")
	// The EBS direct APIs answer with their own codes.
	ErrResourceNotFound = errors.New("resource not found")
	ErrValidation       = errors.New("validation error")
	ErrConflict         = errors.New("conflict")
	// ErrConcurrentLimitExceeded: StartSnapshot with the account's pending
	// uploads at their quota (maxPendingUploads).
	ErrConcurrentLimitExceeded = errors.New("concurrent limit exceeded")
)

// Reason is an error kind of the EBS direct APIs that carries the Reason
// member AWS puts in the exception (ValidationException's
// INVALID_BLOCK...). It wraps its exception's kind, so errors.Is(err,
// ErrValidation) holds for every validation reason.
type Reason struct {
	Kind error
	Name string
}

func (r *Reason) Error() string { return r.Kind.Error() + " (" + r.Name + ")" }

// Unwrap returns the exception's kind.
func (r *Reason) Unwrap() error { return r.Kind }

// Reasons of the EBS direct APIs' exceptions.
var (
	ErrInvalidBlock          = &Reason{ErrValidation, "INVALID_BLOCK"}
	ErrInvalidBlockToken     = &Reason{ErrValidation, "INVALID_BLOCK_TOKEN"}
	ErrInvalidParameterValue = &Reason{ErrValidation, "INVALID_PARAMETER_VALUE"}
	ErrInvalidVolumeSize     = &Reason{ErrValidation, "INVALID_VOLUME_SIZE"}
	ErrInvalidPageToken      = &Reason{ErrValidation, "INVALID_PAGE_TOKEN"}
	ErrInvalidSnapshotID     = &Reason{ErrValidation, "INVALID_SNAPSHOT_ID"}
	ErrUnrelatedSnapshots    = &Reason{ErrValidation, "UNRELATED_SNAPSHOTS"}
	ErrInvalidTag            = &Reason{ErrValidation, "INVALID_TAG"}
	ErrInvalidCustomerKey    = &Reason{ErrValidation, "INVALID_CUSTOMER_KEY"}
	ErrConflictingBlock      = &Reason{ErrValidation, "CONFLICTING_BLOCK_UPDATE"}
	ErrSnapshotMissing       = &Reason{ErrResourceNotFound, "SNAPSHOT_NOT_FOUND"}
)

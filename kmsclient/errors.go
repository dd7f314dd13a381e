package kmsclient

import "errors"

// Sentinel error kinds of the KMS. Implementations return them wrapped in an
// *awserr.Error that carries AWS's message; the API layer maps each kind to
// its AWS error code and HTTP status in one table.
var (
	ErrNotFound             = errors.New("not found")
	ErrDisabled             = errors.New("key disabled")
	ErrInvalidState         = errors.New("key in an invalid state")
	ErrInvalidCiphertext    = errors.New("invalid ciphertext")
	ErrIncorrectKey         = errors.New("incorrect key")
	ErrAccessDenied         = errors.New("access denied")
	ErrValidation           = errors.New("validation error")
	ErrAlreadyExists        = errors.New("already exists")
	ErrLimitExceeded        = errors.New("limit exceeded")
	ErrInvalidAliasName     = errors.New("invalid alias name")
	ErrUnsupportedOperation = errors.New("unsupported operation")
	ErrInvalidGrantID       = errors.New("invalid grant id")
	ErrInvalidGrantToken    = errors.New("invalid grant token")
	ErrInvalidMarker        = errors.New("invalid marker")
	ErrInvalidArn           = errors.New("invalid arn")
	ErrConflict             = errors.New("conflict")
	ErrInvalidKeyUsage      = errors.New("invalid key usage")
	ErrTag                  = errors.New("invalid tag")
	ErrInternal             = errors.New("kms internal error")
	// ErrKeyInUse: ScheduleKeyDeletion of a key that still protects volumes
	// or snapshots, without Force (an ebs extension).
	ErrKeyInUse = errors.New("key in use")
)

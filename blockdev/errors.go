package blockdev

import (
	"errors"

	"github.com/ebs-dev/ebs/internal/awserr"
)

// Sentinel errors of the volume layer (the API maps them to EC2 error codes).
var (
	ErrVolumeNotFound              = errors.New("volume not found")
	ErrVolumeInUse                 = errors.New("volume in use")
	ErrIncorrectState              = errors.New("incorrect state")
	ErrInvalidParameterValue       = errors.New("invalid parameter value")
	ErrInvalidParameterDependency  = errors.New("invalid parameter dependency")
	ErrInvalidParameterCombination = errors.New("invalid parameter combination")
	ErrMissingParameter            = errors.New("missing parameter")
	ErrUnsupportedOperation        = errors.New("unsupported operation")
	ErrInvalidDataKey              = errors.New("invalid data key")
)

func kmsMissing() error {
	return awserr.New(ErrMissingParameter, "The request must contain the parameter KmsKeyId.")
}

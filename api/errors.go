package api

import (
	"errors"
	"net/http"

	"github.com/ebs-dev/ebs/blockdev"
	"github.com/ebs-dev/ebs/iam"

	"github.com/ebs-dev/ebs/kmsclient"
	"github.com/ebs-dev/ebs/kmsclient/audit"
	"github.com/ebs-dev/ebs/kmsclient/policy"
	"github.com/ebs-dev/ebs/snapshot"
)

// awsError is an AWS error code with its HTTP status.
type awsError struct {
	Code   string
	Status int
}

// Errors of the front end itself.
var (
	ErrSerialization    = errors.New("request could not be decoded")
	ErrUnknownOperation = errors.New("unknown operation")
	ErrRequestTooLarge  = errors.New("request too large")
	ErrThrottled        = errors.New("throttled")
)

// Errors of Signature Version 4 authentication on the AWS endpoint.
var (
	ErrMissingAuthToken    = errors.New("missing authentication token")
	ErrIncompleteSignature = errors.New("incomplete signature")
	ErrUnrecognizedClient  = errors.New("unrecognized client")
	ErrInvalidSignature    = errors.New("invalid signature")
)

// errorTable maps every internal error kind to its AWS code and status: the
// one place where that mapping lives.
var errorTable = []struct {
	kind error
	awsError
}{
	{kmsclient.ErrNotFound, awsError{"NotFoundException", http.StatusBadRequest}},
	{kmsclient.ErrDisabled, awsError{"DisabledException", http.StatusBadRequest}},
	{kmsclient.ErrInvalidState, awsError{"KMSInvalidStateException", http.StatusBadRequest}},
	{kmsclient.ErrInvalidCiphertext, awsError{"InvalidCiphertextException", http.StatusBadRequest}},
	{kmsclient.ErrIncorrectKey, awsError{"IncorrectKeyException", http.StatusBadRequest}},
	{kmsclient.ErrAccessDenied, awsError{"AccessDeniedException", http.StatusBadRequest}},
	{kmsclient.ErrValidation, awsError{"ValidationException", http.StatusBadRequest}},
	{kmsclient.ErrAlreadyExists, awsError{"AlreadyExistsException", http.StatusBadRequest}},
	{kmsclient.ErrLimitExceeded, awsError{"LimitExceededException", http.StatusBadRequest}},
	{kmsclient.ErrInvalidAliasName, awsError{"InvalidAliasNameException", http.StatusBadRequest}},
	{kmsclient.ErrUnsupportedOperation, awsError{"UnsupportedOperationException", http.StatusBadRequest}},
	{kmsclient.ErrInvalidGrantID, awsError{"InvalidGrantIdException", http.StatusBadRequest}},
	{kmsclient.ErrInvalidGrantToken, awsError{"InvalidGrantTokenException", http.StatusBadRequest}},
	{kmsclient.ErrInvalidMarker, awsError{"InvalidMarkerException", http.StatusBadRequest}},
	{kmsclient.ErrInvalidArn, awsError{"InvalidArnException", http.StatusBadRequest}},
	{kmsclient.ErrConflict, awsError{"ConflictException", http.StatusBadRequest}},
	{kmsclient.ErrInvalidKeyUsage, awsError{"InvalidKeyUsageException", http.StatusBadRequest}},
	{kmsclient.ErrTag, awsError{"TagException", http.StatusBadRequest}},
	{kmsclient.ErrInternal, awsError{"KMSInternalException", http.StatusInternalServerError}},
	{policy.ErrMalformed, awsError{"MalformedPolicyDocumentException", http.StatusBadRequest}},
	{audit.ErrInvalidNextToken, awsError{"InvalidNextTokenException", http.StatusBadRequest}},
	{audit.ErrInvalidQuery, awsError{"InvalidLookupAttributesException", http.StatusBadRequest}},
	{audit.ErrAccessDenied, awsError{"AccessDeniedException", http.StatusBadRequest}},
	{blockdev.ErrVolumeNotFound, awsError{"InvalidVolume.NotFound", http.StatusBadRequest}},
	{blockdev.ErrVolumeInUse, awsError{"VolumeInUse", http.StatusBadRequest}},
	{blockdev.ErrIncorrectState, awsError{"IncorrectState", http.StatusBadRequest}},
	{blockdev.ErrInvalidParameterValue, awsError{"InvalidParameterValue", http.StatusBadRequest}},
	{blockdev.ErrInvalidParameterDependency, awsError{"InvalidParameterDependency", http.StatusBadRequest}},
	{blockdev.ErrInvalidParameterCombination, awsError{"InvalidParameterCombination", http.StatusBadRequest}},
	{blockdev.ErrMissingParameter, awsError{"MissingParameter", http.StatusBadRequest}},
	{blockdev.ErrUnsupportedOperation, awsError{"UnsupportedOperation", http.StatusBadRequest}},
	{blockdev.ErrInvalidDataKey, awsError{"InvalidKMSKey.InvalidState", http.StatusBadRequest}},
	{snapshot.ErrSnapshotNotFound, awsError{"InvalidSnapshot.NotFound", http.StatusBadRequest}},
	{snapshot.ErrSnapshotInUse, awsError{"InvalidSnapshot.InUse", http.StatusBadRequest}},
	{snapshot.ErrResourceLimitExceeded, awsError{"ResourceLimitExceeded", http.StatusBadRequest}},
	{snapshot.ErrInvalidBlockToken, awsError{"ValidationException", http.StatusBadRequest}},
	{snapshot.ErrResourceNotFound, awsError{"ResourceNotFoundException", http.StatusNotFound}},
	{snapshot.ErrValidation, awsError{"ValidationException", http.StatusBadRequest}},
	{kmsclient.ErrKeyInUse, awsError{"DependencyViolation", http.StatusBadRequest}},
	{ErrSerialization, awsError{"SerializationException", http.StatusBadRequest}},
	{ErrUnknownOperation, awsError{"UnknownOperationException", http.StatusBadRequest}},
	{ErrRequestTooLarge, awsError{"ValidationException", http.StatusRequestEntityTooLarge}},
	{ErrThrottled, awsError{"ThrottlingException", http.StatusBadRequest}},
	// IAM (query protocol) codes and statuses.
	{iam.ErrNoSuchEntity, awsError{"NoSuchEntity", http.StatusNotFound}},
	{iam.ErrLimitExceeded, awsError{"LimitExceeded", http.StatusConflict}},
	{iam.ErrValidation, awsError{"ValidationError", http.StatusBadRequest}},
	{iam.ErrAccessDenied, awsError{"AccessDenied", http.StatusForbidden}},
	// SigV4 failures, with the status of JSON 1.1 services such as KMS
	// (400); the EBS direct APIs answer 403 instead (directErrors).
	{ErrMissingAuthToken, awsError{"MissingAuthenticationTokenException", http.StatusBadRequest}},
	{ErrIncompleteSignature, awsError{"IncompleteSignatureException", http.StatusBadRequest}},
	{ErrUnrecognizedClient, awsError{"UnrecognizedClientException", http.StatusBadRequest}},
	{ErrInvalidSignature, awsError{"InvalidSignatureException", http.StatusBadRequest}},
}

var internalFailure = awsError{"InternalFailure", http.StatusInternalServerError}

// Classify returns the AWS error code and HTTP status of err.
func Classify(err error) (code string, status int) {
	for _, e := range errorTable {
		if errors.Is(err, e.kind) {
			return e.Code, e.Status
		}
	}
	return internalFailure.Code, internalFailure.Status
}

// ErrorCode is Classify's code alone, for the audit trail.
func ErrorCode(err error) string {
	code, _ := Classify(err)
	return code
}

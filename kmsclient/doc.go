// Package kmsclient is the key management layer: the KMS interface that
// volumes use (named after the AWS calls EBS makes), the full KMS Service that
// front ends serve, their request and response shapes with AWS's member
// names, the caller identity carried in a context, and the sentinel errors.
//
// Implementations live in sub-packages: embedded is a KMS with AWS semantics
// that persists in the daemon's data dir; kmstest is the suite every
// implementation must pass. blob is the ciphertext format, policy the key
// policy language, audit the CloudTrail-shaped trail.
package kmsclient

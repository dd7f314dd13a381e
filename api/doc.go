// Package api is the daemon's front end for the CLI: HTTP+JSON over a unix
// socket. A request is `POST /<service>/<Operation>` whose body is the AWS
// API request (KMS JSON 1.1 member names, base64 blobs, epoch-second
// timestamps); the answer is the AWS response, or `{"__type", "message"}`
// with AWS's HTTP status. The caller is the peer of the connection
// (SO_PEERCRED): uid 0 is the account root, any other uid the IAM user of the
// same name.
//
// The service code (kmsclient.Service, the audit trail) knows nothing of
// HTTP; errors.go holds the one table from internal errors to AWS error codes
// and statuses, which the second front end reuses.
//
// The second front end, AWSHandler (ebs serve --listen), speaks the AWS wire
// protocols to unmodified SDKs: JSON 1.1 by X-Amz-Target (KMS, CloudTrail
// LookupEvents) dispatched to the same handlers as the socket, and REST (the
// EBS direct APIs, on s.rest). Every request is authenticated with Signature
// Version 4 (sigv4.go: the request is signed again with aws-sdk-go-v2's
// signer and the stored secret of its access key, see package iam); the
// caller is then the IAM user that owns the key, the same principal as the
// unix user of that name on the socket. A token bucket per principal, one
// for both front ends, limits the request rate (ThrottlingException, or
// RequestThrottledException on the EBS direct APIs).
//
// Locks: one, the rate limiter's mutex (ratelimit.go), a leaf held only to
// find or make a principal's bucket; handlers take no lock of this package.
package api

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
// and statuses, so a second front end (the AWS wire protocols) can reuse it.
package api

package kmsclient

import (
	"context"
	"fmt"
)

// Caller is the principal on whose behalf a KMS operation runs. Key policies,
// grants and the audit trail all see it.
type Caller struct {
	ARN         string // arn:aws:iam::<account>:root or arn:aws:iam::<account>:user/<name>
	AccountID   string
	PrincipalID string
	Type        string // "Root", "IAMUser", "AssumedRole" or "AWSService"
	UserName    string
	AccessKeyID string
	// SourceIP is the address the request came from (aws:SourceIp when it
	// is an IP address); the socket gives 127.0.0.1, the daemon's own
	// background work a name such as "ebs-daemon".
	SourceIP  string
	UserAgent string
	// SecureTransport is set when the request reached the front end over
	// a channel that protects it in transit (aws:SecureTransport): the
	// unix socket, which never leaves the kernel; not the plain-HTTP
	// endpoint.
	SecureTransport bool
	// ViaService is set when an AWS service (EC2 for volumes) makes the call
	// for the principal, e.g. "ec2.local.amazonaws.com"; policies test it with
	// the kms:ViaService condition key.
	ViaService string
}

// RootCaller is the account's root principal.
func RootCaller(account string) Caller {
	return Caller{
		ARN:         fmt.Sprintf("arn:aws:iam::%s:root", account),
		AccountID:   account,
		PrincipalID: account,
		Type:        "Root",
	}
}

// UserCaller is an IAM user of the account. principalID should be stable for
// the user (AWS uses an "AIDA..." id).
func UserCaller(account, name, principalID string) Caller {
	return Caller{
		ARN:         fmt.Sprintf("arn:aws:iam::%s:user/%s", account, name),
		AccountID:   account,
		PrincipalID: principalID,
		Type:        "IAMUser",
		UserName:    name,
	}
}

type callerKey struct{}

// WithCaller returns a context that carries c.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller a context carries.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

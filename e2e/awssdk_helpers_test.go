package e2e

import (
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"
)

// awsEndpoint is a daemon started with --listen, for the AWS SDK tests.
type awsEndpoint struct {
	*daemon
	url string
}

// startAWSEndpoint starts `ebs serve --listen 127.0.0.1:<free port>`.
func startAWSEndpoint(t *testing.T) *awsEndpoint {
	t.Helper()
	addr := freeLoopbackAddr(t)
	d := startDaemon(t, t.TempDir(), "--listen", addr)
	return &awsEndpoint{daemon: d, url: "http://" + addr}
}

// freeLoopbackAddr returns a loopback address with a port that was free a
// moment ago.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// accessKey is what `ebs iam create-access-key` printed.
type accessKey struct{ user, id, secret string }

// newAccessKey makes an access key for user with the CLI.
func (e *awsEndpoint) newAccessKey(user string) accessKey {
	e.t.Helper()
	out := e.ok("iam", "create-access-key", "--user-name", user)
	k := accessKey{user: user, id: str(e.t, out, "AccessKey", "AccessKeyId"), secret: str(e.t, out, "AccessKey", "SecretAccessKey")}
	if k.id == "" || k.secret == "" {
		e.t.Fatalf("create-access-key printed %v", out)
	}
	return k
}

// kms returns an unmodified aws-sdk-go-v2 KMS client for the endpoint,
// signing with k. (The same code as the README's example.)
func (e *awsEndpoint) kms(k accessKey) *kms.Client {
	return kms.New(kms.Options{
		Region:       "local",
		BaseEndpoint: aws.String(e.url),
		Credentials:  credentials.NewStaticCredentialsProvider(k.id, k.secret, ""),
	})
}

// wantAPIError requires err to be an AWS API error with code.
func wantAPIError(t *testing.T, err error, code string) smithy.APIError {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("got error %v, want %s", err, code)
	}
	return ae
}

// wantTyped requires err to be (or wrap) the SDK's exception type T.
func wantTyped[T error](t *testing.T, err error) T {
	t.Helper()
	var target T
	if !errors.As(err, &target) {
		t.Fatalf("got error %v (%T), want %s", err, errors.Unwrap(err), fmt.Sprintf("%T", target))
	}
	return target
}

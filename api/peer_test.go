package api

import (
	"context"
	"net"
	"path/filepath"
	"testing"
)

// TestSocketCaller checks what a unix-socket caller carries into the KMS's
// condition keys: the loopback address and a secure transport.
func TestSocketCaller(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	client, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	c, err := callerFor(peerContext(context.Background(), server), testAccount)
	if err != nil {
		t.Fatal(err)
	}
	if c.SourceIP != "127.0.0.1" || !c.SecureTransport || c.UserAgent != "ebs-cli" || c.AccountID != testAccount {
		t.Errorf("socket caller %+v", c)
	}
}

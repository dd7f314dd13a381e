package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"os/user"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ebs-dev/ebs/kmsclient"
)

type peerKey struct{}

// peerContext is the http.Server ConnContext hook: it reads the peer
// credentials of a unix-socket connection once, when it is accepted.
func peerContext(ctx context.Context, c net.Conn) context.Context {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return ctx
	}
	cred, err := peerCred(uc)
	if err != nil {
		return ctx
	}
	return context.WithValue(ctx, peerKey{}, cred)
}

func peerCred(c *net.UnixConn) (*unix.Ucred, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	var cred *unix.Ucred
	var credErr error
	err = raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	})
	if err != nil {
		return nil, err
	}
	return cred, credErr
}

// callerFor maps a unix peer to its principal: uid 0 is the account's root,
// any other uid the IAM user named like the unix user.
func callerFor(ctx context.Context, account string) (kmsclient.Caller, error) {
	cred, ok := ctx.Value(peerKey{}).(*unix.Ucred)
	if !ok {
		return kmsclient.Caller{}, errors.New("the peer credentials of the connection are unknown")
	}
	if cred.Uid == 0 {
		return local(kmsclient.RootCaller(account)), nil
	}
	name := strconv.Itoa(int(cred.Uid))
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
	}
	return local(kmsclient.UserCaller(account, name, principalID(name))), nil
}

// local marks a caller of the unix socket: its peer is a process of this
// host, so its source address is the loopback one a local client of the
// endpoint would have (aws:SourceIp 127.0.0.1), and the socket, which never
// leaves the kernel, counts as a secure transport (aws:SecureTransport).
func local(c kmsclient.Caller) kmsclient.Caller {
	c.SourceIP, c.UserAgent, c.SecureTransport = "127.0.0.1", "ebs-cli", true
	return c
}

// principalID is a stable AWS-style unique id for an IAM user name.
func principalID(name string) string {
	sum := sha256.Sum256([]byte("iam-user:" + name))
	return "AIDA" + strings.ToUpper(hex.EncodeToString(sum[:8]))
}

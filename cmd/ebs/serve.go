package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/ebs-dev/ebs/api"
	"github.com/ebs-dev/ebs/internal/awserr"
	"github.com/ebs-dev/ebs/internal/clock"
	"github.com/ebs-dev/ebs/internal/datadir"
	"github.com/ebs-dev/ebs/internal/durable"
	"github.com/ebs-dev/ebs/kmsclient"
	"github.com/ebs-dev/ebs/kmsclient/embedded"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// serveOptions are the flags of `ebs serve`.
type serveOptions struct {
	dataDir      string
	socket       string
	socketGroup  string
	region       string
	account      string
	rootKeyFile  string
	clockOffset  time.Duration
	clockControl bool
	logLevel     string
	mountDir     string
	pprofAddr    string
	listen       string
	listenPublic bool
	listenRate   float64
}

func newServeCommand() *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the ebs daemon: the KMS, volumes and the API socket",
		Long: `Run the ebs daemon in the foreground. It owns the data dir (one daemon per dir),
serves the API on a unix socket (mode 0600, or 0660 for --socket-group) and logs to stderr.
It is ready when the socket answers: 'ebs wait-ready' blocks until then, and under systemd
(Type=notify) it sends READY=1. SIGINT or SIGTERM stop it cleanly.

With --listen ADDR it also answers the AWS wire protocols over plain HTTP on
ADDR (loopback only, unless --listen-public), for the AWS SDKs and the AWS CLI
(--endpoint-url http://ADDR): requests are signed with Signature Version 4 by
access keys made with 'ebs iam create-access-key'.`,
		Example: `  ebs serve --data-dir /var/lib/ebs
  ebs serve --data-dir /tmp/ebs --socket /tmp/ebs/ebs.sock --clock-control
  ebs serve --data-dir /var/lib/ebs --listen 127.0.0.1:4566`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return asFailure(runServe(cmd.Context(), o))
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dataDir, "data-dir", "/var/lib/ebs", "directory that holds keys, volumes and the audit trail")
	f.StringVar(&o.socket, "socket", "", "API socket path (default <data-dir>/ebs.sock)")
	f.StringVar(&o.socketGroup, "socket-group", "", "unix group allowed to use the socket (mode 0660); default: root only (0600)")
	f.StringVar(&o.region, "region", "local", "region in ARNs")
	f.StringVar(&o.account, "account-id", "000000000000", "account id in ARNs")
	f.StringVar(&o.rootKeyFile, "root-key-file", "", "32-byte KMS root key file (default <data-dir>/kms/root.key, created at first start)")
	f.DurationVar(&o.clockOffset, "clock-offset", 0, "run the daemon's clock this far ahead (e.g. 8760h): rotations and deletions that are due happen at start")
	f.BoolVar(&o.clockControl, "clock-control", false, "let root move the daemon's clock forward at run time (ebs debug advance-clock)")
	f.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&o.pprofAddr, "pprof-addr", "", "serve net/http/pprof on this loopback address (e.g. 127.0.0.1:6060), for profiling")
	f.StringVar(&o.mountDir, "mount-dir", "/run/ebs/volumes", "FUSE mount where each attached volume is a file named by its id")
	f.StringVar(&o.listen, "listen", "", "also answer the AWS wire protocols (KMS, EBS direct APIs; SigV4 with keys from 'ebs iam create-access-key') over plain HTTP on this loopback address, e.g. 127.0.0.1:4566")
	f.Float64Var(&o.listenRate, "listen-rate-limit", api.DefaultRate, "requests a second each principal may make, on the AWS endpoint and the unix socket together (bursts of twice as many); more get ThrottlingException")
	f.BoolVar(&o.listenPublic, "listen-public", false, "allow --listen on a non-loopback address (plain HTTP: requests and responses, plaintext included, cross the network unencrypted)")
	return cmd
}

func runServe(ctx context.Context, o serveOptions) error {
	log, err := newLogger(o.logLevel)
	if err != nil {
		return err
	}
	applyMemoryLimit(log)
	if o.socket == "" {
		o.socket = filepath.Join(o.dataDir, "ebs.sock")
	}
	for _, p := range []*string{&o.dataDir, &o.mountDir, &o.socket} {
		if *p, err = filepath.Abs(*p); err != nil {
			return err
		}
	}
	if err := datadir.Check(o.dataDir); err != nil { // before LOCK: a newer dir is left untouched
		return err
	}
	if err := durable.MkdirAll(o.dataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	unlock, err := lockDataDir(o.dataDir)
	if err != nil {
		return err
	}
	defer unlock()
	if err := datadir.Prepare(o.dataDir, log); err != nil {
		return err
	}
	if err := startPprof(o.pprofAddr, log); err != nil {
		return err
	}
	tcp, err := listenAWS(o.listen, o.listenPublic, log)
	if err != nil {
		return err
	}
	if tcp != nil {
		defer tcp.Close() // closed already after a clean shutdown
	}
	d, err := openDaemon(ctx, o, log)
	if d != nil {
		defer d.close()
	}
	if err != nil {
		return err
	}
	l, err := listenSocket(o.socket, o.socketGroup)
	if err != nil {
		return err
	}
	defer os.Remove(o.socket)

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	log.Info("ebs daemon ready", "data_dir", o.dataDir, "mount_dir", o.mountDir, "socket", o.socket, "listen", o.listen, "region", o.region, "account", o.account)
	notifySystemd("READY=1")
	err = serveAll(ctx, api.New(d.apiConfig(o)), l, tcp)
	log.Info("ebs daemon stopping")
	return err
}

// serveAll serves the API socket and, when tcp is not nil, the AWS endpoint
// until ctx is done or one of them fails; then both shut down gracefully.
func serveAll(ctx context.Context, srv *api.Server, sock, tcp net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	n := 1
	go func() { errc <- srv.Serve(ctx, sock) }()
	if tcp != nil {
		n++
		go func() { errc <- srv.ServeAWS(ctx, tcp) }()
	}
	var errs []error
	for range n {
		errs = append(errs, <-errc)
		cancel()
	}
	return errors.Join(errs...)
}

// listenAWS opens the TCP listener of the AWS endpoint (--listen), which
// must be a loopback address unless public is set.
func listenAWS(addr string, public bool, log *slog.Logger) (net.Listener, error) {
	if addr == "" {
		if public {
			return nil, usageErrorf("--listen-public needs --listen ADDR")
		}
		return nil, nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, usageErrorf("--listen %s: %w", addr, err)
	}
	if !isLoopback(host) && !public {
		return nil, usageErrorf("--listen %s: not a loopback address; the endpoint is plain HTTP, so give --listen-public to serve it on the network anyway", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--listen: %w", err)
	}
	if !isLoopback(host) {
		log.Warn("the AWS endpoint is public and plain HTTP: use it only on a trusted network", "addr", l.Addr().String())
	}
	log.Info("AWS endpoint serving", "addr", l.Addr().String())
	return l, nil
}

// isLoopback reports whether host (of host:port) is only reachable locally.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func newLogger(level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lv})), nil
}

// lockDataDir takes an exclusive lock on <dir>/LOCK so that a second daemon
// on the same dir fails at once.
func lockDataDir(dir string) (func(), error) {
	path := filepath.Join(dir, "LOCK")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock data dir: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("data dir %s is in use by another ebs daemon (pid %s): stop it first, or use another --data-dir", dir, string(holder))
		}
		return nil, fmt.Errorf("lock data dir: %w", err)
	}
	f.Truncate(0)
	f.WriteAt([]byte(strconv.Itoa(os.Getpid())), 0)
	return func() { f.Truncate(0); f.Close() }, nil
}

// listenSocket listens on a unix socket readable only by root (0600), or by
// root and a group (0660). A stale socket file is replaced: the data-dir lock
// proves no other daemon uses it.
func listenSocket(path, group string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("socket dir: %w", err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove stale socket: %w", err)
	}
	old := unix.Umask(0o177)
	l, err := net.Listen("unix", path)
	unix.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", path, err)
	}
	if group == "" {
		return l, nil
	}
	g, err := user.LookupGroup(group)
	if err == nil {
		gid, _ := strconv.Atoi(g.Gid)
		if err = os.Chown(path, 0, gid); err == nil {
			err = os.Chmod(path, 0o660)
		}
	}
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("--socket-group %s: %w", group, err)
	}
	return l, nil
}

// notifySystemd sends a sd_notify message when NOTIFY_SOCKET is set.
func notifySystemd(msg string) {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return
	}
	if addr[0] == '@' {
		addr = "\x00" + addr[1:]
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return
	}
	defer c.Close()
	c.Write([]byte(msg))
}

// clockControl moves the daemon's clock and applies due rotations and deletions.
type clockControl struct {
	offset *clock.Offset
	kms    *embedded.KMS
}

func (c clockControl) Advance(ctx context.Context, d time.Duration) (time.Time, error) {
	if d < 0 {
		return time.Time{}, awserr.New(kmsclient.ErrValidation, "The clock only moves forward.")
	}
	c.offset.Advance(d)
	if err := c.kms.Sweep(ctx); err != nil {
		return time.Time{}, err
	}
	return c.offset.Now(), nil
}

// startPprof serves the Go profiler on a loopback address, if one is given.
func startPprof(addr string, log *slog.Logger) error {
	if addr == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--pprof-addr: %w", err)
	}
	if !isLoopback(host) {
		return fmt.Errorf("--pprof-addr %s: only a loopback address is allowed", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--pprof-addr: %w", err)
	}
	log.Info("pprof serving", "addr", l.Addr().String())
	go http.Serve(l, nil) // net/http/pprof registers on the default mux
	return nil
}

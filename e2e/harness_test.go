package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ebsBin is the binary under test, built once by TestMain: with the race
// detector when the tests run with it, so that a data race in the daemon
// fails the test that ran it. plainBin is the same code without it, for the
// daemons of the tests in plainDaemon.
var ebsBin, plainBin string

// plainDaemon lists the tests whose daemons run without the race detector:
// each moves hundreds of MiB through the mount and through re-encrypting
// copies, which the detector makes 3-5 times slower (measured here, one at
// a time: TestGoldenV1DataDir 37 s without, 114 s with;
// TestSnapshotsSurviveRestart 11 s, 52 s), and `make test` must stay well
// under its time limit. Every code path they take runs under the detector
// in other tests, with less data.
var plainDaemon = map[string]bool{
	"TestGoldenV1DataDir":         true,
	"TestSnapshotsSurviveRestart": true,
	"TestSnapshotBadInput":        true,
	"TestDeleteMiddleSnapshot":    true,
}

// daemonBin is the binary the daemons of test t run.
func daemonBin(t *testing.T) string {
	if plainDaemon[strings.SplitN(t.Name(), "/", 2)[0]] {
		return plainBin
	}
	return ebsBin
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ebs-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Chmod(dir, 0o755) // a second unix user runs it too
	// A race-built binary sleeps 1 s at exit (for late reports) by default:
	// a second for every CLI call and every daemon stop.
	os.Setenv("GORACE", "atexit_sleep_ms=0")
	ebsBin, plainBin = filepath.Join(dir, "ebs"), filepath.Join(dir, "ebs")
	builds := [][]string{{"-o", ebsBin}}
	if raceBuild {
		plainBin = filepath.Join(dir, "ebs-plain")
		builds = [][]string{{"-race", "-o", ebsBin}, {"-o", plainBin}}
	}
	for _, args := range builds {
		build := exec.Command("go", append(append([]string{"build"}, args...), "../cmd/ebs")...)
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build ebs:", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// daemon is a running `ebs serve`.
type daemon struct {
	t       *testing.T
	dataDir string
	socket  string
	args    []string
	cmd     *exec.Cmd
	log     *syncBuffer
	exited  chan error
}

// startDaemon starts `ebs serve` on dataDir with extra flags and waits until
// its socket answers. The daemon is stopped when the test ends.
func startDaemon(t *testing.T, dataDir string, extra ...string) *daemon {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("SKIP: ebs serve mounts its volume files with FUSE and /dev/fuse is missing:", err)
	}
	d := &daemon{t: t, dataDir: dataDir, socket: filepath.Join(dataDir, "ebs.sock")}
	for i, a := range extra {
		if a == "--socket" && i+1 < len(extra) {
			d.socket = extra[i+1]
		}
	}
	hasMount := false
	for _, a := range extra {
		hasMount = hasMount || a == "--mount-dir"
	}
	if !hasMount {
		extra = append(extra, "--mount-dir", filepath.Join(t.TempDir(), "mnt"))
	}
	d.args = append([]string{"serve", "--data-dir", dataDir, "--clock-control"}, extra...)
	d.start()
	t.Cleanup(func() {
		if d.cmd != nil {
			d.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-d.exited:
			case <-time.After(20 * time.Second):
				d.cmd.Process.Kill()
				<-d.exited
			}
			d.cmd = nil
		}
		d.checkRaces()
		if t.Failed() {
			t.Logf("daemon log:\n%s", d.log.String())
		}
	})
	return d
}

// syncBuffer is the daemon's output, read by the test while it runs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// checkRaces fails the test if the race detector reported a data race in
// the daemon (built with -race when the tests are).
func (d *daemon) checkRaces() {
	if d.log != nil && strings.Contains(d.log.String(), "WARNING: DATA RACE") {
		d.t.Errorf("the daemon had a data race:\n%s", d.log.String())
	}
}

func (d *daemon) start() {
	d.t.Helper()
	d.checkRaces() // of the run before a restart
	d.log = &syncBuffer{}
	d.cmd = exec.Command(daemonBin(d.t), d.args...)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		d.t.Fatalf("start daemon: %v", err)
	}
	d.exited = make(chan error, 1)
	go func(c *exec.Cmd) { d.exited <- c.Wait() }(d.cmd)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if d.healthy() {
			return
		}
		select {
		case err := <-d.exited:
			d.cmd = nil
			d.t.Fatalf("daemon exited before it was ready: %v\n%s", err, d.log.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	d.t.Fatalf("daemon not ready after 20s:\n%s", d.log.String())
}

func (d *daemon) healthy() bool {
	resp, err := d.http().Get("http://ebs/health")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// http returns a client that talks to the daemon's socket.
func (d *daemon) http() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", d.socket)
		},
	}}
}

// stop sends SIGTERM and checks that the daemon exits 0.
func (d *daemon) stop() {
	d.t.Helper()
	d.signal(syscall.SIGTERM)
}

func (d *daemon) signal(sig syscall.Signal) {
	d.t.Helper()
	d.cmd.Process.Signal(sig)
	select {
	case err := <-d.exited:
		d.cmd = nil
		if err != nil {
			d.t.Fatalf("daemon exit after %v: %v\n%s", sig, err, d.log.String())
		}
	case <-time.After(30 * time.Second):
		d.t.Fatalf("daemon did not stop after %v", sig)
	}
}

func (d *daemon) restart() {
	d.t.Helper()
	d.stop()
	d.start()
}

// result is what one CLI invocation did.
type result struct {
	stdout, stderr string
	code           int
}

// ebs runs the CLI as root against the daemon.
func (d *daemon) ebs(args ...string) result {
	d.t.Helper()
	return d.ebsAs(nil, args...)
}

// ebsAs runs the CLI with the given credentials (nil: the test's own).
func (d *daemon) ebsAs(cred *syscall.Credential, args ...string) result {
	d.t.Helper()
	cmd := exec.Command(ebsBin, append([]string{"--socket", d.socket}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Env = append(os.Environ(), "TZ=UTC")
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		d.t.Fatalf("run ebs %v: %v", args, err)
	}
	return result{stdout: out.String(), stderr: errb.String(), code: code}
}

// ok runs the CLI, requires success, and decodes its JSON output (if any).
func (d *daemon) ok(args ...string) map[string]any {
	d.t.Helper()
	r := d.ebs(args...)
	if r.code != 0 {
		d.t.Fatalf("ebs %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return decodeJSON(d.t, r.stdout)
}

// fails runs the CLI and requires a service error with the AWS code.
func (d *daemon) fails(code string, args ...string) result {
	d.t.Helper()
	return d.failsAs(nil, code, args...)
}

func (d *daemon) failsAs(cred *syscall.Credential, code string, args ...string) result {
	d.t.Helper()
	r := d.ebsAs(cred, args...)
	want := "An error occurred (" + code + ") when calling the "
	if r.code != 254 || !strings.HasPrefix(r.stderr, want) {
		d.t.Fatalf("ebs %s: exit %d, stderr %q; want exit 254 and %q", strings.Join(args, " "), r.code, r.stderr, want)
	}
	return r
}

func decodeJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	if strings.TrimSpace(s) == "" {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, s)
	}
	return m
}

// field walks a decoded JSON document: field(m, "KeyMetadata", "KeyId").
func field(t *testing.T, m map[string]any, path ...string) any {
	t.Helper()
	var v any = m
	for _, p := range path {
		obj, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%v: %q is not inside an object in %v", path, p, m)
		}
		v = obj[p]
	}
	return v
}

func str(t *testing.T, m map[string]any, path ...string) string {
	t.Helper()
	s, _ := field(t, m, path...).(string)
	return s
}

// writeFile writes a temporary input file and returns its path.
func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

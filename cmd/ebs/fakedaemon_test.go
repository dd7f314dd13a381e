package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeDaemon is a test double of the daemon's transport: an HTTP server on
// a unix socket in t.TempDir() that records each request and answers with
// a canned status and body.
type fakeDaemon struct {
	socket string
	status int
	body   string

	mu       sync.Mutex
	requests []recordedRequest
}

type recordedRequest struct {
	method, path, contentType, body string
}

func newFakeDaemon(t *testing.T, status int, body string) *fakeDaemon {
	t.Helper()
	d := &fakeDaemon{socket: filepath.Join(t.TempDir(), "ebs.sock"), status: status, body: body}
	ln, err := net.Listen("unix", d.socket)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	srv := &http.Server{Handler: d, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return d
}

func (d *fakeDaemon) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	d.mu.Lock()
	d.requests = append(d.requests, recordedRequest{r.Method, r.URL.Path, r.Header.Get("Content-Type"), string(body)})
	d.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(d.status)
	_, _ = io.WriteString(w, d.body)
}

// only returns the single request the daemon received.
func (d *fakeDaemon) only(t *testing.T) recordedRequest {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.requests) != 1 {
		t.Fatalf("daemon got %d requests, want 1: %+v", len(d.requests), d.requests)
	}
	return d.requests[0]
}

// cliResult is what one run of the CLI printed and returned.
type cliResult struct {
	stdout, stderr string
	code           int
}

// runCLI runs ebs with args, timestamps in UTC and the given environment.
func runCLI(t *testing.T, env map[string]string, args ...string) cliResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	a := newApp(&stdout, &stderr)
	a.loc = time.UTC
	a.getenv = func(k string) string { return env[k] }
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code := runApp(ctx, a, args)
	return cliResult{stdout.String(), stderr.String(), code}
}

// runAgainst runs ebs with --socket pointing at d.
func runAgainst(t *testing.T, d *fakeDaemon, args ...string) cliResult {
	t.Helper()
	return runCLI(t, nil, append([]string{"--socket", d.socket}, args...)...)
}

// expand replaces @DIR@ in args by dir.
func expand(args []string, dir string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = strings.ReplaceAll(a, "@DIR@", dir)
	}
	return out
}

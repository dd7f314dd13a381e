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
// a canned status and body, or, when script is set, with the replies
// scripted for the request's path.
type fakeDaemon struct {
	socket string
	status int
	body   string
	script map[string][]reply // by path: the replies in turn, the last repeated

	mu       sync.Mutex
	requests []recordedRequest
}

type recordedRequest struct {
	method, path, contentType, body string
}

// reply is one scripted answer of a fakeDaemon.
type reply struct {
	status int
	body   string
}

func newFakeDaemon(t *testing.T, status int, body string) *fakeDaemon {
	t.Helper()
	return startFakeDaemon(t, &fakeDaemon{status: status, body: body})
}

// newScriptedDaemon answers the n-th request to a path with its n-th
// scripted reply (the last one once they run out), and 404 to a path with
// no script.
func newScriptedDaemon(t *testing.T, script map[string][]reply) *fakeDaemon {
	t.Helper()
	return startFakeDaemon(t, &fakeDaemon{status: 404, body: `{"__type":"UnknownOperationException"}`, script: script})
}

func startFakeDaemon(t *testing.T, d *fakeDaemon) *fakeDaemon {
	t.Helper()
	d.socket = filepath.Join(t.TempDir(), "ebs.sock")
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
	status, answer := d.status, d.body
	if replies := d.script[r.URL.Path]; len(replies) > 0 {
		n := 0
		for _, req := range d.requests {
			if req.path == r.URL.Path {
				n++
			}
		}
		rep := replies[min(n, len(replies)-1)]
		status, answer = rep.status, rep.body
	}
	d.requests = append(d.requests, recordedRequest{r.Method, r.URL.Path, r.Header.Get("Content-Type"), string(body)})
	d.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, answer)
}

// all returns every request the daemon received, in order.
func (d *fakeDaemon) all() []recordedRequest {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]recordedRequest(nil), d.requests...)
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
	return runConfigured(t, env, nil, args...)
}

// runConfigured is runCLI with configure applied to the app first.
func runConfigured(t *testing.T, env map[string]string, configure func(*app), args ...string) cliResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	a := newApp(&stdout, &stderr)
	a.loc = time.UTC
	a.getenv = func(k string) string { return env[k] }
	if configure != nil {
		configure(a)
	}
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

package api

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ebs-dev/ebs/kmsclient"
)

// TestSocketThrottling: the unix socket limits each principal's rate as
// the AWS endpoint does, with the same ThrottlingException, and from the
// same bucket: a principal cannot double its rate by calling both.
func TestSocketThrottling(t *testing.T) {
	e := newEndpoint(t, func(c *Config) { c.RateLimit, c.RateBurst = 0.001, 2 })
	sock := filepath.Join(t.TempDir(), "ebs.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- e.srv.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	call := func() (int, map[string]any) {
		t.Helper()
		resp, err := client.Post("http://ebs/kms/ListKeys", "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		var out map[string]any
		if err := json.Unmarshal(data, &out); err != nil {
			t.Fatalf("%d %q: %v", resp.StatusCode, data, err)
		}
		return resp.StatusCode, out
	}
	// One token of root's bucket goes to a request on the endpoint (the
	// bucket is the principal's, whatever the front end); root is the
	// socket's principal here, as we run as uid 0.
	if !e.srv.limits.allow(kmsclient.RootCaller(testAccount).ARN) {
		t.Fatal("root's bucket is empty before any call")
	}
	if status, out := call(); status != http.StatusOK {
		t.Fatalf("the second call of the burst: %d %v", status, out)
	}
	status, out := call()
	if status != http.StatusBadRequest || out["__type"] != "ThrottlingException" || out["message"] != "Rate exceeded" {
		t.Fatalf("call over the burst: %d %v, want 400 ThrottlingException", status, out)
	}
	if resp, out := e.call("TrentService.ListKeys", `{}`, e.alice); resp.StatusCode != http.StatusOK {
		t.Fatalf("alice has her own bucket: %d %v", resp.StatusCode, out)
	}
}

package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// TestLookupEventsRootOnly checks item 11 of issue 10: the audit trail says
// who used which key with which encryption context, so only the account's
// root reads it (no IAM policies exist to allow cloudtrail:LookupEvents to
// anyone else). A second unix user on the socket and an IAM user over
// --listen both get AWS's AccessDeniedException; root still reads it.
func TestLookupEventsRootOnly(t *testing.T) {
	cred := unixUser(t)
	sockDir := sharedDir(t)
	addr := freeLoopbackAddr(t)
	d := startDaemon(t, t.TempDir(), "--socket", filepath.Join(sockDir, "ebs.sock"), "--socket-group", testUser, "--listen", addr)
	e := &awsEndpoint{daemon: d, url: "http://" + addr}
	d.ok("kms", "create-key", "--description", "audited")

	userArn := "arn:aws:iam::000000000000:user/" + testUser
	r := d.failsAs(cred, "AccessDeniedException", "cloudtrail", "lookup-events", "--max-results", "5")
	wantDenial(t, r.stderr, userArn)
	if strings.Contains(r.stdout, "CreateKey") {
		t.Errorf("a denied lookup printed events: %s", r.stdout)
	}
	// The same user may still use the KMS: only the trail is closed to it.
	if r := d.ebsAs(cred, "kms", "list-keys"); r.code != 0 {
		t.Errorf("list-keys as %s: exit %d %s", testUser, r.code, r.stderr)
	}

	alice := e.newAccessKey("alice")
	status, body := e.signedJSON(t, alice, "cloudtrail", "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents", `{"MaxResults":5}`)
	if status != http.StatusBadRequest || body["__type"] != "AccessDeniedException" {
		t.Fatalf("LookupEvents over --listen as alice = %d %v, want 400 AccessDeniedException", status, body)
	}
	wantDenial(t, body["message"].(string), "arn:aws:iam::000000000000:user/alice")

	events := field(t, d.ok("cloudtrail", "lookup-events", "--event-name", "CreateKey"), "Events").([]any)
	if len(events) != 1 {
		t.Fatalf("root sees %d CreateKey events, want 1", len(events))
	}
}

func wantDenial(t *testing.T, msg, principal string) {
	t.Helper()
	want := "User: " + principal + " is not authorized to perform: cloudtrail:LookupEvents " +
		"because no identity-based policy allows the cloudtrail:LookupEvents action"
	if !strings.Contains(msg, want) {
		t.Errorf("denial %q does not say %q", msg, want)
	}
}

// signedJSON sends a JSON 1.1 request to the --listen endpoint, signed with
// SigV4 for service, and returns the status and decoded body. (There is no
// CloudTrail client among the test's modules.)
func (e *awsEndpoint) signedJSON(t *testing.T, k accessKey, service, target, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amz-Target", target)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: k.id, SecretAccessKey: k.secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), service, "local", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("response is not JSON: %v: %s", err, data)
	}
	return resp.StatusCode, out
}

package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/ebs-dev/ebs/iam"
	"github.com/ebs-dev/ebs/kmsclient"
	"github.com/ebs-dev/ebs/kmsclient/audit"
	"github.com/ebs-dev/ebs/kmsclient/embedded"
)

const testAccount = "000000000000"

// endpoint is a Server with an embedded KMS and IAM keys behind an
// httptest server running AWSHandler.
type endpoint struct {
	t     *testing.T
	srv   *Server
	http  *httptest.Server
	keys  *iam.Store
	trail *audit.Trail
	alice iam.AccessKey
}

func newEndpoint(t *testing.T, tweak func(*Config)) *endpoint {
	t.Helper()
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	trail, err := audit.Open(filepath.Join(dir, "cloudtrail", "events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { trail.Close() })
	k, err := embedded.Open(embedded.Options{Dir: filepath.Join(dir, "kms"), Region: testRegion, Account: testAccount,
		Trail: trail, Logger: log, SweepInterval: -1, ErrorCode: ErrorCode})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	keys, err := iam.Open(filepath.Join(dir, "iam"), nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{KMS: k, Trail: trail, Account: testAccount, Region: testRegion, Logger: log, IAM: keys}
	if tweak != nil {
		tweak(&cfg)
	}
	e := &endpoint{t: t, srv: New(cfg), keys: keys, trail: trail}
	if e.alice, err = keys.CreateAccessKey("alice"); err != nil {
		t.Fatal(err)
	}
	e.http = httptest.NewServer(e.srv.AWSHandler())
	t.Cleanup(e.http.Close)
	return e
}

// call sends a signed JSON 1.1 request and returns the status and the
// decoded body.
func (e *endpoint) call(target, body string, key iam.AccessKey) (*http.Response, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.http.URL+"/", strings.NewReader(body))
	req.Header.Set("X-Amz-Target", target)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	service := "kms"
	if strings.HasPrefix(target, "com.amazonaws.cloudtrail") {
		service = "cloudtrail"
	}
	e.sign(req, []byte(body), key, service, "")
	return e.do(req)
}

func (e *endpoint) sign(req *http.Request, body []byte, key iam.AccessKey, service, payloadHash string) {
	e.t.Helper()
	if payloadHash == "" {
		sum := sha256.Sum256(body)
		payloadHash = hex.EncodeToString(sum[:])
	}
	creds := aws.Credentials{AccessKeyID: key.AccessKeyID, SecretAccessKey: key.SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, payloadHash, service, testRegion, time.Now()); err != nil {
		e.t.Fatal(err)
	}
}

func (e *endpoint) do(req *http.Request) (*http.Response, map[string]any) {
	e.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	data, _ := io.ReadAll(resp.Body)
	if len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, &out); err != nil {
			e.t.Fatalf("response is not JSON: %v: %s", err, data)
		}
	}
	return resp, out
}

func wantError(t *testing.T, resp *http.Response, body map[string]any, status int, code string) {
	t.Helper()
	if resp.StatusCode != status || body["__type"] != code {
		t.Fatalf("got %d %v, want %d %s", resp.StatusCode, body, status, code)
	}
	if resp.Header.Get("x-amzn-RequestId") == "" {
		t.Error("no x-amzn-RequestId")
	}
}

// wantRESTError checks a restJson1 error: the code is in X-Amzn-ErrorType,
// the body has the message.
func wantRESTError(t *testing.T, resp *http.Response, body map[string]any, status int, code string) {
	t.Helper()
	if resp.StatusCode != status || resp.Header.Get("X-Amzn-ErrorType") != code || body["message"] == "" {
		t.Fatalf("got %d %s %v, want %d %s", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), body, status, code)
	}
}

func TestEndpointKMSCall(t *testing.T) {
	e := newEndpoint(t, nil)
	resp, out := e.call("TrentService.CreateKey", `{"Description":"over http"}`, e.alice)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("CreateKey: %d %v", resp.StatusCode, out)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		t.Errorf("Content-Type %q", ct)
	}
	if resp.Header.Get("x-amzn-RequestId") == "" {
		t.Error("no x-amzn-RequestId")
	}
	md, _ := out["KeyMetadata"].(map[string]any)
	if md["Description"] != "over http" || md["KeyState"] != "Enabled" {
		t.Fatalf("KeyMetadata %v", md)
	}
	recs, _, err := e.trail.Lookup(audit.Query{EventName: "CreateKey"})
	if err != nil || len(recs) != 1 {
		t.Fatalf("trail: %v %v", recs, err)
	}
	id := recs[0].UserIdentity
	if id.UserName != "alice" || id.AccessKeyID != e.alice.AccessKeyID || id.ARN != "arn:aws:iam::000000000000:user/alice" ||
		id.PrincipalID != principalID("alice") || recs[0].SourceIPAddress != "127.0.0.1" {
		t.Fatalf("audit identity %+v, source %q", id, recs[0].SourceIPAddress)
	}

}

// TestEndpointLookupEventsRootOnly checks item 11 of issue 10: the audit
// trail is not for every principal of the account. Over the AWS endpoint
// every caller is an IAM user, and with no IAM policies none may read it.
func TestEndpointLookupEventsRootOnly(t *testing.T) {
	e := newEndpoint(t, nil)
	if resp, out := e.call("TrentService.CreateKey", `{}`, e.alice); resp.StatusCode != http.StatusOK {
		t.Fatalf("CreateKey: %d %v", resp.StatusCode, out)
	}
	for _, body := range []string{`{"MaxResults":1}`, `{"MaxResults":500}`, `{"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"CreateKey"}]}`} {
		resp, out := e.call("com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents", body, e.alice)
		wantError(t, resp, out, http.StatusBadRequest, "AccessDeniedException")
		want := "User: arn:aws:iam::000000000000:user/alice is not authorized to perform: cloudtrail:LookupEvents " +
			"because no identity-based policy allows the cloudtrail:LookupEvents action"
		if out["message"] != want {
			t.Errorf("message %q, want %q", out["message"], want)
		}
		if _, leaked := out["Events"]; leaked {
			t.Errorf("a denied LookupEvents returned events: %v", out)
		}
	}
}

func TestEndpointErrors(t *testing.T) {
	e := newEndpoint(t, nil)
	resp, out := e.call("TrentService.DescribeKey", `{"KeyId":"alias/none"}`, e.alice)
	wantError(t, resp, out, http.StatusBadRequest, "NotFoundException")

	resp, out = e.call("TrentService.NoSuchOperation", `{}`, e.alice)
	wantError(t, resp, out, http.StatusBadRequest, "UnknownOperationException")
	resp, out = e.call("Nobody.Operation", `{}`, e.alice)
	wantError(t, resp, out, http.StatusBadRequest, "UnknownOperationException")

	wrong := e.alice
	wrong.SecretAccessKey = strings.Repeat("x", 40)
	resp, out = e.call("TrentService.ListKeys", `{}`, wrong)
	wantError(t, resp, out, http.StatusBadRequest, "InvalidSignatureException")
	if out["message"] != msgSignatureMismatch {
		t.Errorf("message %q", out["message"])
	}

	req, _ := http.NewRequest(http.MethodPost, e.http.URL+"/", strings.NewReader(`{}`))
	req.Header.Set("X-Amz-Target", "TrentService.ListKeys")
	resp, out = e.do(req)
	wantError(t, resp, out, http.StatusBadRequest, "MissingAuthenticationTokenException")

	resp, out = e.call("TrentService.ListKeys", `{"Limit":`, e.alice)
	wantError(t, resp, out, http.StatusBadRequest, "SerializationException")

	// A KMS body is always signed: UNSIGNED-PAYLOAD would let anyone who
	// sees one signed request replay it with another body.
	req, _ = http.NewRequest(http.MethodPost, e.http.URL+"/", strings.NewReader(`{"KeyId":"alias/x"}`))
	req.Header.Set("X-Amz-Target", "TrentService.DescribeKey")
	req.Header.Set("X-Amz-Content-Sha256", unsignedPayload)
	e.sign(req, nil, e.alice, "kms", unsignedPayload)
	resp, out = e.do(req)
	wantError(t, resp, out, http.StatusBadRequest, "InvalidSignatureException")

	big := `{"Description":"` + strings.Repeat("a", MaxBodyBytes) + `"}`
	resp, out = e.call("TrentService.CreateKey", big, e.alice)
	wantError(t, resp, out, http.StatusRequestEntityTooLarge, "ValidationException")
}

func TestEndpointThrottling(t *testing.T) {
	e := newEndpoint(t, func(c *Config) { c.RateLimit, c.RateBurst = 0.001, 2 })
	bob, _ := e.keys.CreateAccessKey("bob")
	for range 2 {
		if resp, out := e.call("TrentService.ListKeys", `{}`, e.alice); resp.StatusCode != http.StatusOK {
			t.Fatalf("%d %v", resp.StatusCode, out)
		}
	}
	resp, out := e.call("TrentService.ListKeys", `{}`, e.alice)
	wantError(t, resp, out, http.StatusBadRequest, "ThrottlingException")
	if resp, out := e.call("TrentService.ListKeys", `{}`, bob); resp.StatusCode != http.StatusOK {
		t.Fatalf("bob has his own bucket: %d %v", resp.StatusCode, out)
	}
}

func TestEndpointPanic(t *testing.T) {
	e := newEndpoint(t, nil)
	e.srv.routes["kms/Boom"] = func(context.Context, []byte) (any, error) { panic("boom") }
	resp, out := e.call("TrentService.Boom", `{}`, e.alice)
	wantError(t, resp, out, http.StatusInternalServerError, "InternalFailure")
	if resp, _ := e.call("TrentService.ListKeys", `{}`, e.alice); resp.StatusCode != http.StatusOK {
		t.Fatal("the server does not answer after a panic")
	}
}

func TestEndpointREST(t *testing.T) {
	e := newEndpoint(t, nil)
	var gotBody []byte
	e.srv.rest.HandleFunc(routePutSnapshotBlock, func(w http.ResponseWriter, r *http.Request) {
		c, _ := kmsclient.CallerFrom(r.Context())
		gotBody, _ = io.ReadAll(r.Body)
		writeJSON(w, http.StatusCreated, map[string]string{"User": c.UserName, "AccessKeyId": c.AccessKeyID, "Id": r.PathValue("id")})
	})
	block := bytes.Repeat([]byte{1}, 512<<10)
	put := func(sign func(*http.Request)) (*http.Response, map[string]any) {
		req, _ := http.NewRequest(http.MethodPut, e.http.URL+"/snapshots/snap-1/blocks/3", bytes.NewReader(block))
		req.Header.Set("X-Amz-Content-Sha256", unsignedPayload)
		if sign != nil {
			sign(req)
		}
		return e.do(req)
	}
	resp, out := put(func(r *http.Request) { e.sign(r, nil, e.alice, "ebs", unsignedPayload) })
	if resp.StatusCode != http.StatusCreated || out["User"] != "alice" || out["AccessKeyId"] != e.alice.AccessKeyID ||
		out["Id"] != "snap-1" || !bytes.Equal(gotBody, block) {
		t.Fatalf("PUT: %d %v (body %d bytes)", resp.StatusCode, out, len(gotBody))
	}
	resp, out = put(nil)
	wantRESTError(t, resp, out, http.StatusForbidden, "MissingAuthenticationTokenException")
	resp, out = put(func(r *http.Request) { e.sign(r, nil, e.alice, "kms", unsignedPayload) })
	wantRESTError(t, resp, out, http.StatusForbidden, "InvalidSignatureException")

	// A signed payload is hashed: the body the handler reads is the one signed.
	req, _ := http.NewRequest(http.MethodPut, e.http.URL+"/snapshots/snap-2/blocks/0", bytes.NewReader([]byte("signed")))
	e.sign(req, []byte("signed"), e.alice, "ebs", "")
	if resp, out := e.do(req); resp.StatusCode != http.StatusCreated || string(gotBody) != "signed" {
		t.Fatalf("signed PUT: %d %v %q", resp.StatusCode, out, gotBody)
	}
}

func TestIAMRoutesRootOnly(t *testing.T) {
	e := newEndpoint(t, nil)
	root := kmsclient.WithCaller(t.Context(), kmsclient.RootCaller(testAccount))
	user := kmsclient.WithCaller(t.Context(), kmsclient.UserCaller(testAccount, "alice", principalID("alice")))

	out, err := e.srv.routes["iam/CreateAccessKey"](root, []byte(`{"UserName":"carol"}`))
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(out)
	var got struct{ AccessKey map[string]any }
	json.Unmarshal(data, &got)
	for _, f := range []string{"UserName", "AccessKeyId", "SecretAccessKey", "Status", "CreateDate"} {
		if got.AccessKey[f] == nil {
			t.Errorf("CreateAccessKey output lacks %s: %s", f, data)
		}
	}
	if _, ok := got.AccessKey["CreateDate"].(float64); !ok {
		t.Errorf("CreateDate is not epoch seconds: %s", data)
	}
	for _, route := range []string{"iam/CreateAccessKey", "iam/ListAccessKeys", "iam/DeleteAccessKey", "iam/UpdateAccessKey"} {
		_, err := e.srv.routes[route](user, []byte(`{"UserName":"alice"}`))
		if code, status := Classify(err); code != "AccessDenied" || status != http.StatusForbidden {
			t.Errorf("%s as a user: %s %d (%v)", route, code, status, err)
		}
	}
	_, err = e.srv.routes["iam/DeleteAccessKey"](root, []byte(`{"UserName":"carol","AccessKeyId":"AKIANONE"}`))
	if code, status := Classify(err); code != "NoSuchEntity" || status != http.StatusNotFound {
		t.Errorf("delete unknown: %s %d", code, status)
	}
	e.srv.routes["iam/CreateAccessKey"](root, []byte(`{"UserName":"carol"}`))
	_, err = e.srv.routes["iam/CreateAccessKey"](root, []byte(`{"UserName":"carol"}`))
	if code, status := Classify(err); code != "LimitExceeded" || status != http.StatusConflict {
		t.Errorf("third key: %s %d", code, status)
	}
	_, err = e.srv.routes["iam/ListAccessKeys"](root, []byte(`{"UserName":"no spaces"}`))
	if code, status := Classify(err); code != "ValidationError" || status != http.StatusBadRequest {
		t.Errorf("bad user name: %s %d", code, status)
	}
}

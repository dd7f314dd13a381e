package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/ebs-dev/ebs/iam"
	"github.com/ebs-dev/ebs/internal/awserr"
)

const (
	testAKID   = "AKIAAAAAAAAAAAAAAAAA"
	testSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	testRegion = "local"
)

// fakeKeys is a key store of fixed credentials.
type fakeKeys map[string]iam.Credential

func (f fakeKeys) Lookup(id string) (iam.Credential, bool) {
	c, ok := f[id]
	return c, ok
}

var testKeys = fakeKeys{testAKID: {AccessKeyID: testAKID, SecretAccessKey: testSecret, UserName: "alice"}}

// sigTest describes one request to sign with the SDK's signer.
type sigTest struct {
	method, path string
	body         []byte
	header       map[string]string
	akid, secret string
	service      string
	region       string
	at           time.Time
	unsigned     bool // sign with UNSIGNED-PAYLOAD (and send X-Amz-Content-Sha256)
	// after are headers the client adds once the request is signed: sent,
	// but not covered by the signature.
	after map[string]string
}

func kmsRequest() sigTest {
	return sigTest{
		method: http.MethodPost, path: "/", body: []byte(`{"KeyId":"alias/app"}`),
		header: map[string]string{"X-Amz-Target": "TrentService.DescribeKey", "Content-Type": "application/x-amz-json-1.1"},
		akid:   testAKID, secret: testSecret, service: "kms", region: testRegion, at: time.Now(),
	}
}

// request signs the request as a client would and returns it as the server
// receives it.
func (st sigTest) request(t *testing.T) *http.Request {
	t.Helper()
	client, err := http.NewRequest(st.method, "http://127.0.0.1:4566"+st.path, bytes.NewReader(st.body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range st.header {
		client.Header.Set(k, v)
	}
	sum := sha256.Sum256(st.body)
	hash := hex.EncodeToString(sum[:])
	if st.unsigned {
		hash = unsignedPayload
		client.Header.Set("X-Amz-Content-Sha256", hash)
	}
	creds := aws.Credentials{AccessKeyID: st.akid, SecretAccessKey: st.secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, client, hash, st.service, st.region, st.at); err != nil {
		t.Fatal(err)
	}
	for k, v := range st.after {
		client.Header.Set(k, v)
	}
	srv := httptest.NewRequest(st.method, client.URL.RequestURI(), bytes.NewReader(st.body))
	srv.Host = client.URL.Host
	srv.Header = client.Header.Clone()
	srv.ContentLength = int64(len(st.body))
	return srv
}

// verifyBody runs the verifier on r as the endpoint does: the payload hash
// is the header's UNSIGNED-PAYLOAD (which the endpoint allows on
// PutSnapshotBlock only) or the SHA-256 of body.
func verifyBody(v *sigV4, r *http.Request, service string, body []byte) (iam.Credential, error) {
	if r.Header.Get("X-Amz-Content-Sha256") == unsignedPayload {
		return v.verify(r, service, unsignedPayload)
	}
	hash, err := payloadHash(r, body)
	if err != nil {
		return iam.Credential{}, err
	}
	return v.verify(r, service, hash)
}

func TestSigV4Good(t *testing.T) {
	v := newSigV4(testKeys, testRegion)
	st := kmsRequest()
	cred, err := verifyBody(v, st.request(t), "kms", st.body)
	if err != nil {
		t.Fatal(err)
	}
	if cred.UserName != "alice" || cred.AccessKeyID != testAKID {
		t.Fatalf("credential %+v", cred)
	}
}

func TestSigV4RESTWithQueryAndUnsignedPayload(t *testing.T) {
	v := newSigV4(testKeys, testRegion)
	st := sigTest{method: http.MethodPut, path: "/snapshots/snap-0123/blocks/7", body: bytes.Repeat([]byte{7}, 4096),
		header: map[string]string{"X-Amz-Data-Length": "4096", "X-Amz-Checksum": "abc=", "Content-Type": "application/octet-stream"},
		akid:   testAKID, secret: testSecret, service: "ebs", region: testRegion, at: time.Now(), unsigned: true}
	r := st.request(t)
	// The body is not signed: another body with the same headers passes.
	if _, err := verifyBody(v, r, "ebs", []byte("another body")); err != nil {
		t.Fatalf("unsigned payload refused: %v", err)
	}
	st = sigTest{method: http.MethodGet, path: "/snapshots/snap-0123/blocks?maxResults=100&startingBlockIndex=2",
		akid: testAKID, secret: testSecret, service: "ebs", region: testRegion, at: time.Now()}
	r = st.request(t)
	if _, err := verifyBody(v, r, "ebs", nil); err != nil {
		t.Fatalf("GET with a query: %v", err)
	}
	r.URL.RawQuery = "maxResults=1000&startingBlockIndex=2"
	if _, err := verifyBody(v, r, "ebs", nil); !errors.Is(err, ErrInvalidSignature) {
		t.Fatalf("changed query: %v", err)
	}
}

func TestSigV4Refusals(t *testing.T) {
	v := newSigV4(fakeKeys{testAKID: testKeys[testAKID]}, testRegion)
	for _, tc := range []struct {
		name    string
		mutate  func(st *sigTest)
		request func(r *http.Request) // after signing
		body    []byte                // the body the server reads, if not the signed one
		want    error
		msg     string
	}{
		{name: "wrong secret", mutate: func(st *sigTest) { st.secret = "x" + testSecret[1:] },
			want: ErrInvalidSignature, msg: msgSignatureMismatch},
		{name: "tampered signed header", request: func(r *http.Request) { r.Header.Set("X-Amz-Target", "TrentService.Decrypt") },
			want: ErrInvalidSignature, msg: msgSignatureMismatch},
		{name: "tampered content type", request: func(r *http.Request) { r.Header.Set("Content-Type", "application/json") },
			want: ErrInvalidSignature},
		{name: "changed body", body: []byte(`{"KeyId":"alias/other"}`), want: ErrInvalidSignature, msg: msgSignatureMismatch},
		{name: "changed body with content sha256", body: []byte(`{}`),
			request: func(r *http.Request) {
				r.Header.Set("X-Amz-Content-Sha256", payloadSHA256([]byte(`{"KeyId":"alias/app"}`)))
			},
			want: ErrInvalidSignature},
		{name: "changed path", request: func(r *http.Request) { r.URL.Path = "/x" }, want: ErrInvalidSignature},
		{name: "changed host", request: func(r *http.Request) { r.Host = "127.0.0.1:4567" }, want: ErrInvalidSignature},
		{name: "expired", mutate: func(st *sigTest) { st.at = time.Now().Add(-16 * time.Minute) },
			want: ErrInvalidSignature, msg: "Signature expired: "},
		{name: "in the future", mutate: func(st *sigTest) { st.at = time.Now().Add(16 * time.Minute) },
			want: ErrInvalidSignature, msg: "Signature not yet current: "},
		{name: "missing auth", request: func(r *http.Request) { r.Header.Del("Authorization") },
			want: ErrMissingAuthToken, msg: "Missing Authentication Token"},
		{name: "not sigv4", request: func(r *http.Request) { r.Header.Set("Authorization", "Bearer abc") },
			want: ErrIncompleteSignature, msg: "Authorization header requires 'Credential' parameter."},
		{name: "no signature", request: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Split(r.Header.Get("Authorization"), ", Signature=")[0])
		}, want: ErrIncompleteSignature, msg: "Authorization header requires 'Signature' parameter."},
		{name: "missing equal sign", request: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "Credential=", "Credential ", 1))
		}, want: ErrIncompleteSignature, msg: "not a valid key=value pair (missing equal-sign) in Authorization header"},
		{name: "no date", request: func(r *http.Request) { r.Header.Del("X-Amz-Date") },
			want: ErrIncompleteSignature, msg: "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."},
		{name: "bad date", request: func(r *http.Request) { r.Header.Set("X-Amz-Date", "yesterday") },
			want: ErrIncompleteSignature, msg: "Date must be in ISO-8601 'basic format'."},
		{name: "short credential", request: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/local/kms/", "/local/", 1))
		}, want: ErrIncompleteSignature, msg: "Credential must have exactly 5 slash-delimited elements"},
		{name: "scope date differs", request: func(r *http.Request) {
			r.Header.Set("X-Amz-Date", time.Now().UTC().Add(-24*time.Hour).Format(amzDateFormat))
		}, want: ErrInvalidSignature, msg: "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP"},
		{name: "unknown key", mutate: func(st *sigTest) { st.akid = "AKIAUNKNOWNUNKNOWN00" },
			want: ErrUnrecognizedClient, msg: msgInvalidToken},
		{name: "session token", mutate: func(st *sigTest) { st.header["X-Amz-Security-Token"] = "tok" },
			want: ErrUnrecognizedClient, msg: msgInvalidToken},
		{name: "wrong region", mutate: func(st *sigTest) { st.region = "us-east-1" },
			want: ErrInvalidSignature, msg: "Credential should be scoped to a valid region, not 'us-east-1'."},
		{name: "wrong service", mutate: func(st *sigTest) { st.service = "ebs" },
			want: ErrInvalidSignature, msg: "Credential should be scoped to correct service: 'kms'."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := kmsRequest()
			if tc.mutate != nil {
				tc.mutate(&st)
			}
			r := st.request(t)
			if tc.request != nil {
				tc.request(r)
			}
			body := st.body
			if tc.body != nil {
				body = tc.body
			}
			_, err := verifyBody(v, r, "kms", body)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if !strings.Contains(awserr.Message(err), tc.msg) {
				t.Fatalf("message %q does not contain %q", awserr.Message(err), tc.msg)
			}
		})
	}
}

func TestSigV4InactiveKey(t *testing.T) {
	store, err := iam.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := store.CreateAccessKey("bob")
	v := newSigV4(store, testRegion)
	st := kmsRequest()
	st.akid, st.secret = k.AccessKeyID, k.SecretAccessKey
	if _, err := verifyBody(v, st.request(t), "kms", st.body); err != nil {
		t.Fatalf("active key: %v", err)
	}
	store.UpdateAccessKey("bob", k.AccessKeyID, iam.StatusInactive)
	if _, err := verifyBody(v, st.request(t), "kms", st.body); !errors.Is(err, ErrUnrecognizedClient) {
		t.Fatalf("inactive key: %v", err)
	}
}

func TestSigV4SkewBoundary(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	v := newSigV4(testKeys, testRegion)
	v.now = func() time.Time { return now }
	st := kmsRequest()
	st.at = now.Add(-14 * time.Minute)
	if _, err := verifyBody(v, st.request(t), "kms", st.body); err != nil {
		t.Fatalf("14 minutes old: %v", err)
	}
	st.at = now.Add(-16 * time.Minute)
	_, err := verifyBody(v, st.request(t), "kms", st.body)
	want := "Signature expired: 20260301T114400Z is now earlier than 20260301T114500Z (20260301T120000Z - 15 min.)"
	if awserr.Message(err) != want {
		t.Fatalf("got %q, want %q", awserr.Message(err), want)
	}
}

func TestAuthErrorStatusPerProtocol(t *testing.T) {
	err := awserr.New(ErrInvalidSignature, msgSignatureMismatch)
	if code, status := Classify(err); code != "InvalidSignatureException" || status != http.StatusBadRequest {
		t.Errorf("JSON: %s %d", code, status)
	}
	if e, _ := classifyDirect(err); e.code != "InvalidSignatureException" || e.status != http.StatusForbidden {
		t.Errorf("EBS direct: %s %d", e.code, e.status)
	}
	if e, _ := classifyDirect(awserr.New(ErrThrottled, "x")); e.code != "RequestThrottledException" || e.status != http.StatusBadRequest {
		t.Errorf("EBS direct throttling: %s %d", e.code, e.status)
	}
}

// FuzzSigV4 feeds arbitrary Authorization and X-Amz-Date headers to the
// verifier: it must refuse them with an AWS error, never panic.
func FuzzSigV4(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential="+testAKID+"/20260301/local/kms/aws4_request, SignedHeaders=host;x-amz-date, Signature=00", "20260301T120000Z")
	f.Add("AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=;;;, Signature=", "x")
	f.Add("AWS4-HMAC-SHA256 ,,,=,", "")
	f.Add("Bearer x", "20260301T120000Z")
	v := newSigV4(testKeys, testRegion)
	v.now = func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }
	f.Fuzz(func(t *testing.T, auth, date string) {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.Header.Set("Authorization", auth)
		r.Header.Set("X-Amz-Date", date)
		_, err := v.verify(r, "kms", payloadSHA256(nil))
		if err == nil {
			t.Fatalf("accepted %q %q", auth, date)
		}
		if code, _ := Classify(err); code == internalFailure.Code {
			t.Fatalf("%q %q: not an AWS error: %v", auth, date, err)
		}
	})
}

package api

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ebs-dev/ebs/internal/awserr"
)

// TestSigV4OperationMustBeSigned is the attack of issue 10 item 10: a
// DescribeKey request signed over content-length;content-type;host;
// x-amz-date, its X-Amz-Target added after signing, was accepted, and so
// was the same signature with X-Amz-Target ScheduleKeyDeletion.
func TestSigV4OperationMustBeSigned(t *testing.T) {
	v := newSigV4(testKeys, testRegion)
	for _, op := range []string{"TrentService.DescribeKey", "TrentService.ScheduleKeyDeletion"} {
		st := kmsRequest()
		delete(st.header, "X-Amz-Target")
		st.after = map[string]string{"X-Amz-Target": op}
		r := st.request(t)
		if got := signedHeadersOf(r); got != "content-length;content-type;host;x-amz-date" {
			t.Fatalf("the request is signed over %q", got)
		}
		_, err := verifyBody(v, r, "kms", st.body)
		wantUnsignedHeader(t, err, "'x-amz-target' must be a 'SignedHeader' in the AWS Authorization.")
	}
}

// TestSigV4RequiredSignedHeaders: Host, Content-Type when sent and every
// x-amz-* header sent must be in SignedHeaders, as AWS requires; each case
// carries a signature that is otherwise valid.
func TestSigV4RequiredSignedHeaders(t *testing.T) {
	v := newSigV4(testKeys, testRegion)
	for _, tc := range []struct {
		name   string
		st     func() sigTest
		mutate func(r *http.Request) // after signing
		msg    string
	}{
		{name: "content type added after signing", st: func() sigTest {
			st := kmsRequest()
			delete(st.header, "Content-Type")
			st.after = map[string]string{"Content-Type": "application/x-amz-json-1.1"}
			return st
		}, msg: "'Content-Type' must be a 'SignedHeader' in the AWS Authorization."},
		// The verifier signs the host whether it is listed or not, so this
		// signature matches: only the rule refuses it.
		{name: "host left out of SignedHeaders", st: kmsRequest, mutate: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), ";host;", ";", 1))
		}, msg: "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."},
		{name: "EBS checksum added after signing", st: func() sigTest {
			st := blockRequest()
			delete(st.header, "X-Amz-Checksum")
			st.after = map[string]string{"X-Amz-Checksum": "forged="}
			return st
		}, msg: "'x-amz-checksum' must be a 'SignedHeader' in the AWS Authorization."},
		{name: "EBS data length added after signing", st: func() sigTest {
			st := blockRequest()
			delete(st.header, "X-Amz-Data-Length")
			st.after = map[string]string{"X-Amz-Data-Length": "524288"}
			return st
		}, msg: "'x-amz-data-length' must be a 'SignedHeader' in the AWS Authorization."},
		{name: "content sha256 added after signing", st: func() sigTest {
			st := kmsRequest()
			st.after = map[string]string{"X-Amz-Content-Sha256": payloadSHA256(st.body)}
			return st
		}, msg: "'x-amz-content-sha256' must be a 'SignedHeader' in the AWS Authorization."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := tc.st()
			r := st.request(t)
			if tc.mutate != nil {
				tc.mutate(r)
			}
			_, err := verifyBody(v, r, st.service, st.body)
			wantUnsignedHeader(t, err, tc.msg)
		})
	}
}

// blockRequest is a PutSnapshotBlock request signed with UNSIGNED-PAYLOAD,
// as the SDK signs it.
func blockRequest() sigTest {
	return sigTest{method: http.MethodPut, path: "/snapshots/snap-0123/blocks/7", body: []byte("block"),
		header: map[string]string{"X-Amz-Data-Length": "5", "X-Amz-Checksum": "abc=", "X-Amz-Checksum-Algorithm": "SHA256",
			"Content-Type": "application/octet-stream"},
		akid: testAKID, secret: testSecret, service: "ebs", region: testRegion, at: time.Now(), unsigned: true}
}

func signedHeadersOf(r *http.Request) string {
	_, after, _ := strings.Cut(r.Header.Get("Authorization"), "SignedHeaders=")
	list, _, _ := strings.Cut(after, ",")
	return list
}

func wantUnsignedHeader(t *testing.T, err error, msg string) {
	t.Helper()
	if !errors.Is(err, ErrInvalidSignature) || awserr.Message(err) != msg {
		t.Fatalf("got %v (%q), want InvalidSignatureException %q", err, awserr.Message(err), msg)
	}
	if code, status := Classify(err); code != "InvalidSignatureException" || status != http.StatusBadRequest {
		t.Errorf("JSON 1.1: %s %d, want InvalidSignatureException 400", code, status)
	}
	if e, _ := classifyDirect(err); e.code != "InvalidSignatureException" || e.status != http.StatusForbidden {
		t.Errorf("EBS direct: %s %d, want InvalidSignatureException 403", e.code, e.status)
	}
}

package api

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
)

// TestEndpointOperationMustBeSigned: the signature of a request whose
// X-Amz-Target was added after signing no longer selects an operation;
// the key the forged ScheduleKeyDeletion names stays enabled.
func TestEndpointOperationMustBeSigned(t *testing.T) {
	e := newEndpoint(t, nil)
	resp, out := e.call("TrentService.CreateKey", `{}`, e.alice)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("CreateKey: %d %v", resp.StatusCode, out)
	}
	id := out["KeyMetadata"].(map[string]any)["KeyId"].(string)
	body := `{"KeyId":"` + id + `"}`
	req, _ := http.NewRequest(http.MethodPost, e.http.URL+"/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	e.sign(req, []byte(body), e.alice, "kms", "")
	req.Header.Set("X-Amz-Target", "TrentService.ScheduleKeyDeletion")
	resp, out = e.do(req)
	wantError(t, resp, out, http.StatusBadRequest, "InvalidSignatureException")
	if out["message"] != "'x-amz-target' must be a 'SignedHeader' in the AWS Authorization." {
		t.Errorf("message %q", out["message"])
	}
	resp, out = e.call("TrentService.DescribeKey", body, e.alice)
	if state := out["KeyMetadata"].(map[string]any)["KeyState"]; resp.StatusCode != http.StatusOK || state != "Enabled" {
		t.Fatalf("after the forged call: %d, key %v", resp.StatusCode, state)
	}
}

// TestEndpointUnsignedPayloadOnlyOnPutSnapshotBlock: UNSIGNED-PAYLOAD is
// PutSnapshotBlock's alone; on another EBS direct request (StartSnapshot,
// CompleteSnapshot) it would let a signed request be replayed with any body.
func TestEndpointUnsignedPayloadOnlyOnPutSnapshotBlock(t *testing.T) {
	e := newEndpoint(t, nil)
	reached := 0
	for _, route := range []string{routePutSnapshotBlock, "POST /snapshots", "POST /snapshots/completion/{id}"} {
		e.srv.rest.HandleFunc(route, func(w http.ResponseWriter, r *http.Request) {
			reached++
			writeRESTJSON(w, http.StatusOK, struct{}{})
		})
	}
	send := func(method, path string, body []byte) (*http.Response, map[string]any) {
		req, _ := http.NewRequest(method, e.http.URL+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Amz-Content-Sha256", unsignedPayload)
		e.sign(req, nil, e.alice, "ebs", unsignedPayload)
		return e.do(req)
	}
	for _, path := range []string{"/snapshots", "/snapshots/completion/snap-1"} {
		resp, out := send(http.MethodPost, path, []byte(`{"VolumeSize":16384}`))
		wantRESTError(t, resp, out, http.StatusForbidden, "InvalidSignatureException")
		if out["message"] != msgSignatureMismatch {
			t.Errorf("%s: message %q", path, out["message"])
		}
	}
	if reached != 0 {
		t.Fatalf("%d unsigned requests reached their handler", reached)
	}
	if resp, out := send(http.MethodPut, "/snapshots/snap-1/blocks/0", []byte("block")); resp.StatusCode != http.StatusOK || reached != 1 {
		t.Fatalf("unsigned PutSnapshotBlock: %d %v", resp.StatusCode, out)
	}
}

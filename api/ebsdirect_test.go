package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ebs-dev/ebs/blockdev/store"
	"github.com/ebs-dev/ebs/internal/awserr"
	"github.com/ebs-dev/ebs/kmsclient"
	"github.com/ebs-dev/ebs/snapshot"
)

// TestEBSDirectErrors: each error kind comes out as the ebs model's
// exception, status and Reason, in the restJson1 shape the SDKs read.
func TestEBSDirectErrors(t *testing.T) {
	for _, c := range []struct {
		err    error
		code   string
		status int
		reason string
	}{
		{awserr.New(snapshot.ErrInvalidBlockToken, "expired"), "ValidationException", 400, "INVALID_BLOCK_TOKEN"},
		{awserr.New(snapshot.ErrInvalidVolumeSize, "too big"), "ValidationException", 400, "INVALID_VOLUME_SIZE"},
		{awserr.New(snapshot.ErrValidation, "state"), "ValidationException", 400, ""},
		{awserr.New(snapshot.ErrSnapshotMissing, "no such snapshot"), "ResourceNotFoundException", 404, "SNAPSHOT_NOT_FOUND"},
		{awserr.New(snapshot.ErrConflict, "token reused"), "ConflictException", 409, ""},
		{awserr.New(snapshot.ErrConcurrentLimitExceeded, "100 pending"), "ConcurrentLimitExceededException", 400, ""},
		{fmt.Errorf("start: %w", awserr.New(kmsclient.ErrAccessDenied, "denied")), "AccessDeniedException", 403, "DEPENDENCY_ACCESS_DENIED"},
		{awserr.New(kmsclient.ErrDisabled, "disabled"), "ValidationException", 400, "INVALID_CUSTOMER_KEY"},
		{awserr.New(ErrThrottled, "Rate exceeded"), "RequestThrottledException", 400, "ACCOUNT_THROTTLED"},
		{fmt.Errorf("put: %w", store.ErrNoSpace), "ServiceQuotaExceededException", 402, "DEPENDENCY_SERVICE_QUOTA_EXCEEDED"},
		{errors.New("disk on fire"), "InternalServerException", 500, ""},
	} {
		s := &Server{log: slog.New(slog.DiscardHandler)}
		w := httptest.NewRecorder()
		s.writeDirectError(w, httptest.NewRequest(http.MethodGet, "/snapshots/x/blocks", nil), c.err)
		var body map[string]string
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatalf("%v: body %q: %v", c.err, w.Body.String(), err)
		}
		if w.Code != c.status || w.Header().Get("X-Amzn-ErrorType") != c.code || body["Reason"] != c.reason || body["message"] == "" {
			t.Errorf("%v: status %d, type %q, body %v; want %d %s reason %q", c.err, w.Code, w.Header().Get("X-Amzn-ErrorType"), body, c.status, c.code, c.reason)
		}
	}
}

package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"strconv"

	"github.com/ebs-dev/ebs/blockdev"
	"github.com/ebs-dev/ebs/blockdev/store"
	"github.com/ebs-dev/ebs/internal/awserr"
	"github.com/ebs-dev/ebs/kmsclient"
	"github.com/ebs-dev/ebs/snapshot"
)

// maxBlockBody caps a PutSnapshotBlock body: one 512 KiB block, and a
// little more so that a block too long is reported as such.
const maxBlockBody = snapshot.BlockSizeDirect + 1

// routePutSnapshotBlock is PutSnapshotBlock's route: the one request of the
// AWS endpoint whose payload may be left unsigned (endpoint.go).
const routePutSnapshotBlock = "PUT /snapshots/{id}/blocks/{index}"

// registerEBSDirect registers the EBS direct APIs (REST JSON, SigV4 service
// "ebs") on s.rest, with the HTTP bindings of the ebs service model
// (2019-11-02). Requests reach s.rest through the AWS endpoint
// (AWSHandler) only after SigV4 authentication, with the authenticated
// caller in the request context (kmsclient.CallerFrom).
func (s *Server) registerEBSDirect() {
	if s.cfg.EC2 == nil {
		return
	}
	snaps := s.cfg.EC2.Snapshots()
	for pattern, h := range map[string]func(*snapshot.Service, http.ResponseWriter, *http.Request) error{
		"POST /snapshots":                    startSnapshot,
		routePutSnapshotBlock:                putSnapshotBlock,
		"POST /snapshots/completion/{id}":    completeSnapshot,
		"GET /snapshots/{id}/blocks":         listSnapshotBlocks,
		"GET /snapshots/{id}/changedblocks":  listChangedBlocks,
		"GET /snapshots/{id}/blocks/{index}": getSnapshotBlock,
		"/":                                  unknownRoute,
	} {
		s.rest.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if p := recover(); p != nil {
					s.log.Error("panic serving an EBS direct request", "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
					s.writeDirectError(w, r, fmt.Errorf("internal error"))
				}
			}()
			if err := h(snaps, w, r); err != nil {
				s.writeDirectError(w, r, err)
			}
		})
	}
}

func unknownRoute(_ *snapshot.Service, _ http.ResponseWriter, r *http.Request) error {
	return awserr.New(ErrUnknownOperation, "No EBS direct API operation is %s %s.", r.Method, r.URL.Path)
}

func startSnapshot(snaps *snapshot.Service, w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r, MaxBodyBytes)
	if err != nil {
		return err
	}
	in := new(snapshot.StartSnapshotInput)
	if err := decode(body, in); err != nil {
		return err
	}
	out, err := snaps.StartSnapshot(r.Context(), in)
	if err != nil {
		return err
	}
	writeRESTJSON(w, http.StatusCreated, out)
	return nil
}

func putSnapshotBlock(snaps *snapshot.Service, w http.ResponseWriter, r *http.Request) error {
	in := &snapshot.PutSnapshotBlockInput{SnapshotID: r.PathValue("id"), Checksum: r.Header.Get("x-amz-Checksum"),
		ChecksumAlgorithm: r.Header.Get("x-amz-Checksum-Algorithm")}
	var err error
	if in.BlockIndex, err = pathInt(r, "index", "BlockIndex"); err != nil {
		return err
	}
	if in.DataLength, err = headerInt(r, "x-amz-Data-Length", true); err != nil {
		return err
	}
	if r.Header.Get("x-amz-Progress") != "" {
		p, err := headerInt(r, "x-amz-Progress", false)
		if err != nil {
			return err
		}
		in.Progress = &p
	}
	if in.BlockData, err = io.ReadAll(http.MaxBytesReader(w, r.Body, maxBlockBody)); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return awserr.New(snapshot.ErrInvalidParameterValue, "The block data is longer than %d bytes.", snapshot.BlockSizeDirect)
		}
		return awserr.New(snapshot.ErrInvalidParameterValue, "The block data could not be read: %v", err)
	}
	out, err := snaps.PutSnapshotBlock(r.Context(), in)
	if err != nil {
		return err
	}
	w.Header().Set("x-amz-Checksum", out.Checksum)
	w.Header().Set("x-amz-Checksum-Algorithm", out.ChecksumAlgorithm)
	writeRESTJSON(w, http.StatusCreated, struct{}{})
	return nil
}

func completeSnapshot(snaps *snapshot.Service, w http.ResponseWriter, r *http.Request) error {
	n, err := headerInt(r, "x-amz-ChangedBlocksCount", true)
	if err != nil {
		return err
	}
	out, err := snaps.CompleteSnapshot(r.Context(), &snapshot.CompleteSnapshotInput{SnapshotID: r.PathValue("id"), ChangedBlocksCount: n,
		Checksum: r.Header.Get("x-amz-Checksum"), ChecksumAlgorithm: r.Header.Get("x-amz-Checksum-Algorithm"),
		ChecksumAggregationMethod: r.Header.Get("x-amz-Checksum-Aggregation-Method")})
	if err != nil {
		return err
	}
	writeRESTJSON(w, http.StatusAccepted, out)
	return nil
}

func listSnapshotBlocks(snaps *snapshot.Service, w http.ResponseWriter, r *http.Request) error {
	in := &snapshot.ListSnapshotBlocksInput{SnapshotID: r.PathValue("id"), NextToken: r.URL.Query().Get("pageToken")}
	var err error
	if in.MaxResults, in.StartingBlockIndex, err = pagingQuery(r); err != nil {
		return err
	}
	out, err := snaps.ListSnapshotBlocks(r.Context(), in)
	if err != nil {
		return err
	}
	writeRESTJSON(w, http.StatusOK, out)
	return nil
}

func listChangedBlocks(snaps *snapshot.Service, w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	in := &snapshot.ListChangedBlocksInput{SecondSnapshotID: r.PathValue("id"), FirstSnapshotID: q.Get("firstSnapshotId"), NextToken: q.Get("pageToken")}
	var err error
	if in.MaxResults, in.StartingBlockIndex, err = pagingQuery(r); err != nil {
		return err
	}
	out, err := snaps.ListChangedBlocks(r.Context(), in)
	if err != nil {
		return err
	}
	writeRESTJSON(w, http.StatusOK, out)
	return nil
}

func getSnapshotBlock(snaps *snapshot.Service, w http.ResponseWriter, r *http.Request) error {
	index, err := pathInt(r, "index", "BlockIndex")
	if err != nil {
		return err
	}
	out, err := snaps.GetSnapshotBlock(r.Context(), &snapshot.GetSnapshotBlockInput{SnapshotID: r.PathValue("id"), BlockIndex: index,
		BlockToken: r.URL.Query().Get("blockToken")})
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.Itoa(len(out.BlockData)))
	h.Set("x-amz-Data-Length", strconv.FormatInt(out.DataLength, 10))
	h.Set("x-amz-Checksum", out.Checksum)
	h.Set("x-amz-Checksum-Algorithm", out.ChecksumAlgorithm)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out.BlockData)
	return nil
}

func pathInt(r *http.Request, name, member string) (int64, error) {
	v, err := strconv.ParseInt(r.PathValue(name), 10, 32)
	if err != nil {
		return 0, awserr.New(snapshot.ErrInvalidParameterValue, "%s '%s' is not an integer.", member, r.PathValue(name))
	}
	return v, nil
}

func headerInt(r *http.Request, name string, required bool) (int64, error) {
	raw := r.Header.Get(name)
	if raw == "" && required {
		return 0, awserr.New(snapshot.ErrInvalidParameterValue, "The header %s is required.", name)
	}
	v, err := strconv.ParseInt(raw, 10, 32)
	if err != nil {
		return 0, awserr.New(snapshot.ErrInvalidParameterValue, "The header %s is not an integer: '%s'.", name, raw)
	}
	return v, nil
}

// pagingQuery reads maxResults and startingBlockIndex.
func pagingQuery(r *http.Request) (maxResults int, start int64, err error) {
	q := r.URL.Query()
	if v := q.Get("maxResults"); v != "" {
		n, perr := strconv.Atoi(v)
		if perr != nil {
			return 0, 0, awserr.New(snapshot.ErrInvalidParameterValue, "maxResults '%s' is not an integer.", v)
		}
		maxResults = n
	}
	if v := q.Get("startingBlockIndex"); v != "" {
		if start, err = strconv.ParseInt(v, 10, 32); err != nil || start < 0 {
			return 0, 0, awserr.New(snapshot.ErrInvalidParameterValue, "startingBlockIndex '%s' is not valid.", v)
		}
	}
	return maxResults, start, nil
}

// writeRESTJSON writes a restJson1 response.
func writeRESTJSON(w http.ResponseWriter, status int, v any) {
	writeJSONAs(w, status, "application/json", v)
}

// directError is an EBS direct APIs exception: its code, HTTP status (from
// the ebs model) and default Reason.
type directError struct {
	code   string
	status int
	reason string
}

// directErrors maps error kinds to the EBS direct APIs' exceptions, the
// only REST service of the endpoint. It is apart from errorTable because
// this protocol has its own codes and statuses (authentication failures and
// KMS access denied are 403 here, a missing snapshot
// ResourceNotFoundException 404) and a Reason member. The first match wins.
var directErrors = []struct {
	kind error
	directError
}{
	{ErrMissingAuthToken, directError{"MissingAuthenticationTokenException", http.StatusForbidden, ""}},
	{ErrIncompleteSignature, directError{"IncompleteSignatureException", http.StatusForbidden, ""}},
	{ErrUnrecognizedClient, directError{"UnrecognizedClientException", http.StatusForbidden, ""}},
	{ErrInvalidSignature, directError{"InvalidSignatureException", http.StatusForbidden, ""}},
	{snapshot.ErrResourceNotFound, directError{"ResourceNotFoundException", http.StatusNotFound, "SNAPSHOT_NOT_FOUND"}},
	{snapshot.ErrSnapshotNotFound, directError{"ResourceNotFoundException", http.StatusNotFound, "SNAPSHOT_NOT_FOUND"}},
	{snapshot.ErrValidation, directError{"ValidationException", http.StatusBadRequest, ""}},
	{snapshot.ErrConflict, directError{"ConflictException", http.StatusConflict, ""}},
	{snapshot.ErrConcurrentLimitExceeded, directError{"ConcurrentLimitExceededException", http.StatusBadRequest, ""}},
	{kmsclient.ErrAccessDenied, directError{"AccessDeniedException", http.StatusForbidden, "DEPENDENCY_ACCESS_DENIED"}},
	{kmsclient.ErrNotFound, directError{"ResourceNotFoundException", http.StatusNotFound, "DEPENDENCY_RESOURCE_NOT_FOUND"}},
	{kmsclient.ErrDisabled, directError{"ValidationException", http.StatusBadRequest, "INVALID_CUSTOMER_KEY"}},
	{kmsclient.ErrInvalidState, directError{"ValidationException", http.StatusBadRequest, "INVALID_CUSTOMER_KEY"}},
	{kmsclient.ErrInvalidKeyUsage, directError{"ValidationException", http.StatusBadRequest, "INVALID_CUSTOMER_KEY"}},
	{kmsclient.ErrValidation, directError{"ValidationException", http.StatusBadRequest, "INVALID_PARAMETER_VALUE"}},
	{blockdev.ErrInvalidDataKey, directError{"ValidationException", http.StatusBadRequest, "INVALID_CUSTOMER_KEY"}},
	{blockdev.ErrInvalidParameterValue, directError{"ValidationException", http.StatusBadRequest, "INVALID_PARAMETER_VALUE"}},
	{blockdev.ErrInvalidParameterDependency, directError{"ValidationException", http.StatusBadRequest, "INVALID_PARAMETER_VALUE"}},
	{blockdev.ErrMissingParameter, directError{"ValidationException", http.StatusBadRequest, "INVALID_PARAMETER_VALUE"}},
	{ErrSerialization, directError{"ValidationException", http.StatusBadRequest, "INVALID_PARAMETER_VALUE"}},
	{ErrRequestTooLarge, directError{"ValidationException", http.StatusBadRequest, "INVALID_PARAMETER_VALUE"}},
	{ErrUnknownOperation, directError{"UnknownOperationException", http.StatusNotFound, ""}},
	{ErrThrottled, directError{"RequestThrottledException", http.StatusBadRequest, "ACCOUNT_THROTTLED"}},
	{store.ErrNoSpace, directError{"ServiceQuotaExceededException", http.StatusPaymentRequired, "DEPENDENCY_SERVICE_QUOTA_EXCEEDED"}},
}

var directInternal = directError{"InternalServerException", http.StatusInternalServerError, ""}

// classifyDirect returns the EBS direct exception of err and its Reason.
func classifyDirect(err error) (directError, string) {
	for _, e := range directErrors {
		if errors.Is(err, e.kind) {
			reason := e.reason
			var r *snapshot.Reason
			if errors.As(err, &r) {
				reason = r.Name
			}
			return e.directError, reason
		}
	}
	return directInternal, ""
}

// writeDirectError writes a restJson1 error: the code in X-Amzn-ErrorType,
// the body {"message": ..., "Reason": ...}, the model's status.
func (s *Server) writeDirectError(w http.ResponseWriter, r *http.Request, err error) {
	e, reason := classifyDirect(err)
	msg := awserr.Message(err)
	if e.status >= 500 {
		s.log.Error("EBS direct request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		msg = "An internal error occurred; see the daemon's log."
	}
	body := map[string]string{"message": msg}
	if reason != "" {
		body["Reason"] = reason
	}
	w.Header().Set("X-Amzn-ErrorType", e.code)
	writeRESTJSON(w, e.status, body)
}

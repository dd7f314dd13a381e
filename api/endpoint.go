package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"strings"

	"github.com/google/uuid"

	"github.com/ebs-dev/ebs/internal/awserr"
	"github.com/ebs-dev/ebs/kmsclient"
)

// MaxRESTBodyBytes caps a request body on the REST services of the AWS
// endpoint: an EBS block is 512 KiB.
const MaxRESTBodyBytes = 1 << 20

// jsonTargets maps the X-Amz-Target prefix of a JSON 1.1 service to its
// service name in s.routes, which is also its SigV4 signing name.
var jsonTargets = []struct{ prefix, service string }{
	{"TrentService.", "kms"},
	{"com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.", "cloudtrail"},
}

// restService is the SigV4 signing name of the REST requests (EBS direct).
const restService = "ebs"

// AWSHandler serves the AWS wire protocols (ebs serve --listen): JSON 1.1
// services by X-Amz-Target (KMS, CloudTrail LookupEvents) with the same
// handlers as the unix socket, and REST requests (EBS direct APIs) on s.rest.
// Every request is authenticated with Signature Version 4 against the IAM
// access keys, then rate-limited per principal.
func (s *Server) AWSHandler() http.Handler {
	return http.HandlerFunc(s.serveAWS)
}

func (s *Server) serveAWS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("x-amzn-RequestId", uuid.NewString())
	target := r.Header.Get("X-Amz-Target")
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic serving AWS request", "target", target, "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
			if target == "" {
				s.writeDirectError(w, r, fmt.Errorf("internal error"))
			} else {
				s.writeTargetError(w, target, fmt.Errorf("internal error"))
			}
		}
	}()
	if target == "" {
		s.serveREST(w, r)
		return
	}
	out, err := s.callTarget(r, target)
	if err != nil {
		s.writeTargetError(w, target, err)
		return
	}
	if out == nil {
		out = struct{}{}
	}
	writeJSON(w, http.StatusOK, out)
}

// callTarget runs a JSON 1.1 request: POST / with X-Amz-Target.
func (s *Server) callTarget(r *http.Request, target string) (any, error) {
	service, operation, ok := splitTarget(target)
	if !ok {
		return nil, awserr.New(ErrUnknownOperation, "Unknown target %s.", target)
	}
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		return nil, awserr.New(ErrUnknownOperation, "%s requests are POST /.", service)
	}
	body, err := readBody(r, MaxBodyBytes)
	if err != nil {
		return nil, err
	}
	ctx, err := s.authenticate(r, service, body, false)
	if err != nil {
		return nil, err
	}
	h, ok := s.routes[service+"/"+operation]
	if !ok {
		return nil, awserr.New(ErrUnknownOperation, "Unknown operation %s for service %s.", operation, service)
	}
	return h(ctx, body)
}

func splitTarget(target string) (service, operation string, ok bool) {
	for _, t := range jsonTargets {
		if op, found := strings.CutPrefix(target, t.prefix); found && op != "" {
			return t.service, op, true
		}
	}
	return "", "", false
}

// serveREST authenticates a REST request (service "ebs") and hands it to
// s.rest with the caller in its context. Only PutSnapshotBlock may leave
// its payload unsigned (its block is covered by the signed x-amz-Checksum
// header instead): its body is then not read here.
func (s *Server) serveREST(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxRESTBodyBytes)
	unsigned := s.mayLeavePayloadUnsigned(r) && r.Header.Get("X-Amz-Content-Sha256") == unsignedPayload
	var body []byte
	if !unsigned {
		var err error
		if body, err = readBody(r, MaxRESTBodyBytes); err != nil {
			s.writeDirectError(w, r, err)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	ctx, err := s.authenticate(r, restService, body, unsigned)
	if err != nil {
		s.writeDirectError(w, r, err)
		return
	}
	s.rest.ServeHTTP(w, r.WithContext(ctx))
}

// mayLeavePayloadUnsigned says whether r is routed to PutSnapshotBlock, the
// one operation whose payload may be UNSIGNED-PAYLOAD.
func (s *Server) mayLeavePayloadUnsigned(r *http.Request) bool {
	_, pattern := s.rest.Handler(r)
	return pattern == routePutSnapshotBlock
}

// authenticate verifies the signature of r, applies the principal's rate
// limit and returns the request context with the caller. body is the
// request body; nil when unsigned, that is when the request is
// PutSnapshotBlock's with the payload hash UNSIGNED-PAYLOAD (its block was
// not read). Any other request is verified against the SHA-256 of its body,
// so an UNSIGNED-PAYLOAD there does not match its signature.
func (s *Server) authenticate(r *http.Request, service string, body []byte, unsigned bool) (context.Context, error) {
	hash := unsignedPayload
	if !unsigned {
		var err error
		if hash, err = payloadHash(r, body); err != nil {
			return nil, err
		}
	}
	cred, err := s.sigv4.verify(r, service, hash)
	if err != nil {
		return nil, err
	}
	c := kmsclient.UserCaller(s.cfg.Account, cred.UserName, principalID(cred.UserName))
	c.AccessKeyID = cred.AccessKeyID
	c.SourceIP = remoteIP(r.RemoteAddr)
	c.UserAgent = r.UserAgent()
	if !s.limits.allow(c.ARN) {
		return nil, awserr.New(ErrThrottled, "Rate exceeded")
	}
	return kmsclient.WithCaller(r.Context(), c), nil
}

// payloadHash is the SHA-256 of body, the payload hash a signed request was
// signed with; the X-Amz-Content-Sha256 header, when given, must be that
// hash (UNSIGNED-PAYLOAD included: it is not accepted here).
func payloadHash(r *http.Request, body []byte) (string, error) {
	hash := r.Header.Get("X-Amz-Content-Sha256")
	actual := payloadSHA256(body)
	if hash != "" && hash != actual {
		return "", awserr.New(ErrInvalidSignature, msgSignatureMismatch)
	}
	return actual, nil
}

// readBody reads the whole body of r, at most limit bytes.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, awserr.New(ErrRequestTooLarge, "The request body is larger than %d bytes.", limit)
		}
		return nil, awserr.New(ErrSerialization, "The request body could not be read: %v", err)
	}
	return body, nil
}

func remoteIP(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// writeTargetError writes a JSON 1.1 error: {"__type", "message"} with the
// status of the error table.
func (s *Server) writeTargetError(w http.ResponseWriter, target string, err error) {
	service, operation, _ := splitTarget(target)
	s.writeError(w, service, operation, err)
}

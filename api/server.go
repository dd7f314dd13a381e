package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/google/uuid"

	"github.com/ebs-dev/ebs/ec2"
	"github.com/ebs-dev/ebs/iam"
	"github.com/ebs-dev/ebs/internal/awserr"
	"github.com/ebs-dev/ebs/kmsclient"
)

// MaxBodyBytes caps a request body (KMS requests are at most a few KiB).
const MaxBodyBytes = 256 << 10

// handler runs one operation on a decoded request body.
type handler func(ctx context.Context, body []byte) (any, error)

// Config configures a Server.
type Config struct {
	KMS     kmsclient.Service
	Trail   Trail
	Account string
	Region  string
	Logger  *slog.Logger
	// Clock, if set, lets callers move the daemon's clock (ebs serve --clock-control).
	Clock ClockControl
	// EC2, if set, serves the volume operations.
	EC2 *ec2.Service
	// IAM holds the access keys: the iam/ operations manage them and the AWS
	// endpoint verifies signatures with them. Nil: no keys, every signed
	// request is refused.
	IAM *iam.Store
	// RateLimit and RateBurst are the token bucket of each principal
	// (requests a second, bucket size; 0 means the default), one bucket per
	// principal for the unix socket and the AWS endpoint together.
	RateLimit float64
	RateBurst int
}

// ClockControl moves the daemon's clock and applies what became due.
type ClockControl interface {
	Advance(ctx context.Context, d time.Duration) (time.Time, error)
}

// Server serves the API.
type Server struct {
	cfg    Config
	log    *slog.Logger
	routes map[string]handler // "<service>/<Operation>"
	// rest serves the REST services of the AWS endpoint (EBS direct APIs);
	// requests reach it authenticated, with the caller in their context.
	rest *http.ServeMux
	// sigv4 verifies the signatures of AWS endpoint requests.
	sigv4 *sigV4
	// limits is the per-principal rate limit of both front ends.
	limits *rateLimits
}

// New returns a Server with every operation registered.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, log: cfg.Logger, routes: map[string]handler{}, rest: http.NewServeMux()}
	var keys keyLookup = noKeys{}
	if cfg.IAM != nil {
		keys = cfg.IAM
	}
	s.sigv4 = newSigV4(keys, cfg.Region)
	s.limits = newRateLimits(cfg.RateLimit, cfg.RateBurst)
	s.registerKMS()
	s.registerCloudTrail()
	s.registerDebug()
	s.registerEC2()
	s.registerIAM()
	s.registerEBSDirect()
	return s
}

// op adapts a typed service method to a handler: it decodes the body into In
// (SerializationException on bad JSON or wrong types).
func op[In, Out any](f func(context.Context, *In) (*Out, error)) handler {
	return func(ctx context.Context, body []byte) (any, error) {
		in := new(In)
		if err := decode(body, in); err != nil {
			return nil, err
		}
		return f(ctx, in)
	}
}

func decode(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return awserr.New(ErrSerialization, "%s", serializationMessage(err))
	}
	if dec.More() {
		return awserr.New(ErrSerialization, "Unexpected data after the request object.")
	}
	return nil
}

func serializationMessage(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("Value for member %s has the wrong type: expected %s, got JSON %s.", te.Field, te.Type, te.Value)
	}
	return "The request body is not valid JSON: " + err.Error()
}

// Handler is the HTTP handler of the API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"Status": "ok"})
	})
	mux.HandleFunc("POST /{service}/{operation}", s.serveOperation)
	return mux
}

// Serve answers requests on l until ctx is done, then shuts down gracefully:
// no new calls are accepted and calls in flight finish.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	return s.serveHTTP(ctx, l, s.Handler())
}

// ServeAWS answers the AWS wire protocols (AWSHandler) on l, a TCP listener,
// until ctx is done, then shuts down gracefully like Serve.
func (s *Server) ServeAWS(ctx context.Context, l net.Listener) error {
	return s.serveHTTP(ctx, l, s.AWSHandler())
}

func (s *Server) serveHTTP(ctx context.Context, l net.Listener, h http.Handler) error {
	srv := &http.Server{
		Handler:           h,
		ConnContext:       peerContext,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil {
		return fmt.Errorf("api shutdown: %w", err)
	}
	return nil
}

func (s *Server) serveOperation(w http.ResponseWriter, r *http.Request) {
	service, operation := r.PathValue("service"), r.PathValue("operation")
	requestID := uuid.NewString()
	w.Header().Set("x-amzn-RequestId", requestID)
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic serving request", "op", service+"/"+operation, "panic", p, "stack", string(debug.Stack()))
			s.writeError(w, service, operation, fmt.Errorf("internal error"))
		}
	}()
	out, err := s.call(r, service, operation)
	if err != nil {
		s.writeError(w, service, operation, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) call(r *http.Request, service, operation string) (any, error) {
	h, ok := s.routes[service+"/"+operation]
	if !ok {
		return nil, awserr.New(ErrUnknownOperation, "Unknown operation %s for service %s.", operation, service)
	}
	caller, err := callerFor(r.Context(), s.cfg.Account)
	if err != nil {
		return nil, awserr.New(kmsclient.ErrAccessDenied, "%v", err)
	}
	if !s.limits.allow(caller.ARN) {
		return nil, awserr.New(ErrThrottled, "Rate exceeded")
	}
	body, err := readBody(r, MaxBodyBytes)
	if err != nil {
		return nil, err
	}
	return h(kmsclient.WithCaller(r.Context(), caller), body)
}

func (s *Server) writeError(w http.ResponseWriter, service, operation string, err error) {
	code, status := Classify(err)
	msg := awserr.Message(err)
	if status >= 500 {
		s.log.Error("operation failed", "op", service+"/"+operation, "err", err)
		if code == internalFailure.Code {
			msg = "An internal error occurred; see the daemon's log."
		}
	}
	writeJSON(w, status, map[string]string{"__type": code, "message": msg})
}

// writeJSON writes a JSON 1.1 response.
func writeJSON(w http.ResponseWriter, status int, v any) {
	writeJSONAs(w, status, "application/x-amz-json-1.1", v)
}

func writeJSONAs(w http.ResponseWriter, status int, contentType string, v any) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

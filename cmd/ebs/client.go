package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
)

// defaultClientSocket is where `ebs serve` listens unless told otherwise.
const defaultClientSocket = "/var/lib/ebs/ebs.sock"

// Client calls the daemon's API: POST /<service>/<Operation> with the AWS
// request JSON, over HTTP/1.1 on a unix socket.
type Client struct {
	socket string
	http   *http.Client
	log    *slog.Logger
}

// NewClient returns a client for the daemon listening on socket. Requests
// and responses are logged at debug level to log.
func NewClient(socket string, log *slog.Logger) *Client {
	dialer := &net.Dialer{}
	transport := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, "unix", socket)
		},
		DisableCompression: true,
	}
	return &Client{socket: socket, http: &http.Client{Transport: transport}, log: log}
}

// ServiceError is an error answered by the daemon: an AWS error code and
// message for one operation.
type ServiceError struct {
	Code       string // the AWS error code, e.g. NotFoundException
	Message    string // may be empty
	Operation  string // e.g. DescribeKey
	StatusCode int    // the HTTP status
}

// Error is the AWS CLI's one-line form.
func (e *ServiceError) Error() string {
	return fmt.Sprintf("An error occurred (%s) when calling the %s operation: %s", e.Code, e.Operation, e.Message)
}

// ConnectError means the daemon could not be reached at all.
type ConnectError struct {
	Socket string
	Err    error
}

func (e *ConnectError) Error() string {
	msg := fmt.Sprintf("Could not connect to the endpoint URL: %q", "unix://"+e.Socket)
	if errors.Is(e.Err, syscall.ENOENT) || errors.Is(e.Err, syscall.ECONNREFUSED) {
		return msg + ": the ebs daemon may not be running (start it with 'ebs serve', or pass --socket / set EBS_SOCKET)"
	}
	return fmt.Sprintf("%s: %v", msg, e.Err)
}

func (e *ConnectError) Unwrap() error { return e.Err }

// Call sends request (marshalled to JSON; nil means {}) to the operation of
// service and returns the response body of a successful call ({} when the
// daemon sent none). A failed call returns a *ServiceError.
func (c *Client) Call(ctx context.Context, service, operation string, request any) (json.RawMessage, error) {
	body, err := marshalRequest(request)
	if err != nil {
		return nil, fmt.Errorf("encode %s request: %w", operation, err)
	}
	path := "/" + service + "/" + operation
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://ebs"+path, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build %s request: %w", operation, err)
	}
	req.Header.Set("Content-Type", "application/json")
	c.log.Debug("request", "method", req.Method, "path", path, "socket", c.socket, "body", string(body))
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.transportError(ctx, err)
	}
	defer resp.Body.Close()
	respBody, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read %s response: %w", operation, err)
	}
	c.log.Debug("response", "path", path, "status", resp.StatusCode, "body", string(respBody))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, parseServiceError(operation, resp.StatusCode, respBody)
	}
	if len(bytes.TrimSpace(respBody)) == 0 {
		return json.RawMessage("{}"), nil
	}
	return respBody, nil
}

func marshalRequest(request any) ([]byte, error) {
	if request == nil {
		return []byte("{}"), nil
	}
	return json.Marshal(request)
}

// transportError tells "cannot connect" apart from other transport failures.
func (c *Client) transportError(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("call to %s interrupted: %w", c.socket, ctxErr)
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return &ConnectError{Socket: c.socket, Err: err}
	}
	return fmt.Errorf("call to unix://%s failed: %w", c.socket, err)
}

// parseServiceError reads {"__type": "...", "message": "..."} the way
// botocore does: the code is the part of __type after '#' and before ':',
// the message comes from "message" or "Message". A body that is not such
// JSON gives the HTTP status as the code.
func parseServiceError(operation string, status int, body []byte) *ServiceError {
	se := &ServiceError{Operation: operation, StatusCode: status}
	var wire struct {
		Type     string `json:"__type"`
		Code     string `json:"code"`
		Message  string `json:"message"`
		MessageC string `json:"Message"`
	}
	if json.Unmarshal(body, &wire) != nil || (wire.Type == "" && wire.Code == "") {
		se.Code = strconv.Itoa(status)
		se.Message = strings.TrimSpace(string(body))
		if se.Message == "" {
			se.Message = http.StatusText(status)
		}
		return se
	}
	se.Code = errorCode(wire.Type)
	if se.Code == "" {
		se.Code = wire.Code
	}
	se.Message = wire.Message
	if se.Message == "" {
		se.Message = wire.MessageC
	}
	return se
}

// errorCode strips a namespace and a suffix from an AWS __type:
// "com.amazonaws.kms#NotFoundException:http://..." -> "NotFoundException".
func errorCode(typ string) string {
	if i := strings.LastIndex(typ, "#"); i >= 0 {
		typ = typ[i+1:]
	}
	if i := strings.Index(typ, ":"); i >= 0 {
		typ = typ[:i]
	}
	return typ
}

package main

import (
	"bytes"
	"errors"
	"fmt"
	"syscall"
	"testing"
)

func TestExitCode(t *testing.T) {
	se := &ServiceError{Code: "NotFoundException", Message: "gone", Operation: "DescribeKey", StatusCode: 400}
	connect := &ConnectError{Socket: "/s", Err: syscall.ECONNREFUSED}
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"success", nil, exitOK},
		{"usage", usageErrorf("the following arguments are required: --key-id"), exitUsage},
		{"cobra parse error", errors.New(`unknown command "x" for "ebs"`), exitUsage},
		{"service", se, exitServiceError},
		{"wrapped service", fmt.Errorf("call: %w", se), exitServiceError},
		{"service through asFailure", asFailure(se), exitServiceError},
		{"usage through asFailure", asFailure(usageErrorf("bad")), exitUsage},
		{"cannot connect", asFailure(connect), exitFailure},
		{"other run error", asFailure(errors.New("write output: broken pipe")), exitFailure},
	}
	for _, tt := range tests {
		if got := exitCode(tt.err); got != tt.want {
			t.Errorf("%s: exitCode = %d, want %d", tt.name, got, tt.want)
		}
	}
	if asFailure(nil) != nil {
		t.Error("asFailure(nil) != nil")
	}
}

func TestReportError(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&ServiceError{Code: "DisabledException", Message: "arn:k is disabled.", Operation: "Encrypt"},
			"An error occurred (DisabledException) when calling the Encrypt operation: arn:k is disabled.\n"},
		{&ServiceError{Code: "InvalidCiphertextException", Operation: "Decrypt"},
			"An error occurred (InvalidCiphertextException) when calling the Decrypt operation: \n"},
		{usageErrorf("the following arguments are required: --key-id"),
			"ebs: error: the following arguments are required: --key-id\nSee 'ebs kms encrypt --help'.\n"},
		{asFailure(&ConnectError{Socket: "/run/x.sock", Err: syscall.ENOENT}),
			`Could not connect to the endpoint URL: "unix:///run/x.sock": the ebs daemon may not be running ` +
				"(start it with 'ebs serve', or pass --socket / set EBS_SOCKET)\n"},
		{asFailure(&ConnectError{Socket: "/run/x.sock", Err: syscall.EACCES}),
			`Could not connect to the endpoint URL: "unix:///run/x.sock": permission denied` + "\n"},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		reportError(&buf, tt.err, "ebs kms encrypt")
		if buf.String() != tt.want {
			t.Errorf("got  %q\nwant %q", buf.String(), tt.want)
		}
	}
}

func TestParseServiceError(t *testing.T) {
	tests := []struct {
		status     int
		body       string
		code, msg  string
		wantStatus int
	}{
		{400, `{"__type":"NotFoundException","message":"Key 'x' does not exist"}`, "NotFoundException", "Key 'x' does not exist", 400},
		{400, `{"__type":"com.amazonaws.kms#KMSInvalidStateException:http://x","Message":"pending"}`, "KMSInvalidStateException", "pending", 400},
		{403, `{"code":"AccessDeniedException","message":"no"}`, "AccessDeniedException", "no", 403},
		{502, ``, "502", "Bad Gateway", 502},
		{500, `{"unrelated":1}`, "500", `{"unrelated":1}`, 500},
	}
	for _, tt := range tests {
		se := parseServiceError("Decrypt", tt.status, []byte(tt.body))
		if se.Code != tt.code || se.Message != tt.msg || se.StatusCode != tt.wantStatus || se.Operation != "Decrypt" {
			t.Errorf("parseServiceError(%d, %s) = %+v", tt.status, tt.body, se)
		}
	}
}

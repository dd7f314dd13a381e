package main

import (
	"io"
	"log/slog"
	"testing"
)

func TestListenAWS(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tc := range []struct {
		addr   string
		public bool
		ok     bool
	}{
		{"127.0.0.1:0", false, true},
		{"localhost:0", false, true},
		{"0.0.0.0:0", false, false},
		{":0", false, false},
		{"192.0.2.1:4566", false, false},
		{"0.0.0.0:0", true, true},
		{"127.0.0.1", false, false}, // no port
	} {
		l, err := listenAWS(tc.addr, tc.public, log)
		if l != nil {
			l.Close()
		}
		if (err == nil) != tc.ok {
			t.Errorf("listenAWS(%q, public=%v) = %v", tc.addr, tc.public, err)
		}
		if err != nil && exitCode(err) != exitUsage {
			t.Errorf("listenAWS(%q): exit %d, want %d", tc.addr, exitCode(err), exitUsage)
		}
	}
	if l, err := listenAWS("", false, log); l != nil || err != nil {
		t.Errorf("no --listen: %v %v", l, err)
	}
	if _, err := listenAWS("", true, log); err == nil {
		t.Error("--listen-public without --listen accepted")
	}
}

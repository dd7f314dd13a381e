package datadir

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestParseState(t *testing.T) {
	good := map[string]state{
		"1\n":                   {version: 1},
		"2\n":                   {version: 2},
		"17\n":                  {version: 17},
		"3 upgrading from 2\n":  {version: 3, from: 2},
		"10 upgrading from 9\n": {version: 10, from: 9},
	}
	for in, want := range good {
		got, err := parseState([]byte(in))
		if err != nil || got != want {
			t.Errorf("parseState(%q) = %+v, %v; want %+v", in, got, err, want)
		}
		if string(got.encode()) != in {
			t.Errorf("encode(%+v) = %q, want %q", got, got.encode(), in)
		}
	}
	bad := []string{"", "\n", "2", "0\n", "-1\n", "+2\n", "02\n", " 2\n", "2 \n", "2\n\n", "2\r\n", "two\n",
		"1234567890\n", "2\n3\n", "3 upgrading from 1\n", "1 upgrading from 0\n", "3 upgrading from\n",
		"3 upgrading from 2", "ebs data dir format 2\n", "\x00\x01\x02", "2 upgrading from 2\n"}
	for _, in := range bad {
		if got, err := parseState([]byte(in)); !errors.Is(err, ErrBadFormatFile) {
			t.Errorf("parseState(%q) = %+v, %v; want ErrBadFormatFile", in, got, err)
		}
	}
}

func FuzzParseState(f *testing.F) {
	for _, s := range []string{"2\n", "3 upgrading from 2\n", "", "2", "02\n", "1 upgrading from 0\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parseState(b)
		if err != nil {
			return
		}
		if s.version < 1 || (s.from != 0 && s.from != s.version-1) {
			t.Fatalf("parseState(%q) = %+v", b, s)
		}
		if string(s.encode()) != string(b) {
			t.Fatalf("parseState(%q) = %+v, which encodes as %q", b, s, s.encode())
		}
	})
}

func TestWriteStateReplacesAtomically(t *testing.T) {
	dir := t.TempDir()
	// A temporary file left by a crash in the middle of a write.
	if err := os.WriteFile(filepath.Join(dir, tmpName), []byte("garbage from a crash"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, s := range []state{{version: 3, from: 2}, {version: 3}} {
		if err := writeState(dir, s); err != nil {
			t.Fatal(err)
		}
		got, ok, err := readState(dir)
		if err != nil || !ok || got != s {
			t.Fatalf("after writeState(%+v): readState = %+v, %v, %v", s, got, ok, err)
		}
	}
	names := dirNames(t, dir)
	if len(names) != 1 || names[0] != FileName {
		t.Fatalf("the dir holds %v, want only %s", names, FileName)
	}
	if fi, _ := os.Stat(filepath.Join(dir, FileName)); fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s has mode %v", FileName, fi.Mode())
	}
}

func TestReadStateRefusesHugeFile(t *testing.T) {
	dir := t.TempDir()
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = '7'
	}
	writeRaw(t, dir, string(big)+"\n")
	if _, _, err := readState(dir); !errors.Is(err, ErrBadFormatFile) {
		t.Fatalf("readState of a 1 MiB FORMAT: %v", err)
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func writeRaw(t *testing.T, dir, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

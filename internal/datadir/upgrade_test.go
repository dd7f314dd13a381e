package datadir

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// fake is an upgrader to format 4 whose steps record that they ran, check
// that FORMAT says they are under way, and can be made to fail.
type fake struct {
	t    *testing.T
	ran  []string
	fail map[int]int // step (by the format it makes) -> failures left
}

func (f *fake) upgrader(current int) upgrader {
	u := upgrader{current: current}
	for to := 2; to <= current; to++ {
		u.steps = append(u.steps, step{to: to, what: fmt.Sprintf("fake step to %d", to), run: func(dir string, _ *slog.Logger) error {
			if s, ok, err := readState(dir); err != nil || !ok || s != (state{version: to, from: to - 1}) {
				f.t.Errorf("step to %d runs with FORMAT %+v, %v, %v", to, s, ok, err)
			}
			f.ran = append(f.ran, fmt.Sprintf("%d->%d", to-1, to))
			if f.fail[to] > 0 {
				f.fail[to]--
				return errors.New("injected failure")
			}
			return os.WriteFile(filepath.Join(dir, fmt.Sprintf("made-by-step-%d", to)), []byte("done"), 0o600)
		}})
	}
	return u
}

// logBuffer is a logger whose output the test reads.
func logBuffer() (*slog.Logger, *bytes.Buffer) {
	var b bytes.Buffer
	return slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{Level: slog.LevelDebug})), &b
}

// format1Dir is a data dir as ebs of format 1 left it (no FORMAT).
func format1Dir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range map[string]string{
		"LOCK": "", "kms/root.key": "0123456789abcdef0123456789abcdef", "kms/db/000001.sst": "sst",
		"meta/MANIFEST": "manifest", "blocks/extents/extent-000000": "blocks",
		"cloudtrail/events.jsonl": "{}\n", "iam/access-keys.json": "{}\n",
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// tree maps every path under dir to its content ("<dir>" for directories).
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			m[rel] = "<dir>"
			return nil
		}
		b, err := os.ReadFile(p)
		m[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func wantFormat(t *testing.T, dir, want string) {
	t.Helper()
	got, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil || string(got) != want {
		t.Fatalf("FORMAT = %q, %v; want %q", got, err, want)
	}
}

func TestMissingFormatIsFormat1(t *testing.T) {
	dir := format1Dir(t)
	f := &fake{t: t}
	u := f.upgrader(4)
	if _, _, err := u.check(dir); err != nil {
		t.Fatalf("check: %v", err)
	}
	log, logs := logBuffer()
	if err := u.prepare(dir, log); err != nil {
		t.Fatal(err)
	}
	if want := []string{"1->2", "2->3", "3->4"}; !slices.Equal(f.ran, want) {
		t.Fatalf("steps ran %v, want %v", f.ran, want)
	}
	wantFormat(t, dir, "4\n")
	wantInOrder(t, logs.String(), "upgrading data dir from format 1 to 2", "data dir upgraded to format 2",
		"upgrading data dir from format 2 to 3", "upgrading data dir from format 3 to 4", "data dir upgraded to format 4")
}

// Any one of format 1's entries makes a data dir without FORMAT format 1.
func TestEachFormat1EntryMeansFormat1(t *testing.T) {
	for _, name := range format1Entries {
		dir := t.TempDir()
		if err := os.Mkdir(filepath.Join(dir, name), 0o700); err != nil {
			t.Fatal(err)
		}
		f := &fake{t: t}
		if err := f.upgrader(3).prepare(dir, slog.New(slog.DiscardHandler)); err != nil {
			t.Fatal(err)
		}
		if len(f.ran) != 2 {
			t.Errorf("a data dir with only %s/: steps ran %v, want 1->2 and 2->3", name, f.ran)
		}
	}
}

func TestNewDataDirGetsCurrentFormat(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "LOCK"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	f := &fake{t: t}
	u := f.upgrader(4)
	if _, _, err := u.check(filepath.Join(dir, "does-not-exist")); err != nil {
		t.Fatalf("check of a data dir not made yet: %v", err)
	}
	log, logs := logBuffer()
	if err := u.prepare(dir, log); err != nil {
		t.Fatal(err)
	}
	if len(f.ran) != 0 {
		t.Fatalf("steps ran on a new data dir: %v", f.ran)
	}
	wantFormat(t, dir, "4\n")
	if strings.Contains(logs.String(), "upgrading") || !strings.Contains(logs.String(), "new data dir") {
		t.Fatalf("log:\n%s", logs)
	}
}

func TestCurrentFormatRunsNothing(t *testing.T) {
	dir := format1Dir(t)
	writeRaw(t, dir, "4\n")
	before := tree(t, dir)
	f := &fake{t: t}
	if err := f.upgrader(4).prepare(dir, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	if len(f.ran) != 0 {
		t.Fatalf("steps ran: %v", f.ran)
	}
	wantUnchanged(t, dir, before)
}

func TestUpgradeFromAnOlderFormatRunsTheRestInOrder(t *testing.T) {
	dir := format1Dir(t)
	writeRaw(t, dir, "2\n")
	f := &fake{t: t}
	if err := f.upgrader(4).prepare(dir, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	if want := []string{"2->3", "3->4"}; !slices.Equal(f.ran, want) {
		t.Fatalf("steps ran %v, want %v", f.ran, want)
	}
	wantFormat(t, dir, "4\n")
}

func TestBadFormatFileRefused(t *testing.T) {
	for _, content := range []string{"", "garbage\n", "2", "0\n", "2\n3\n", "4 upgrading from 2\n", "\x89PNG\r\n"} {
		dir := format1Dir(t)
		writeRaw(t, dir, content)
		before := tree(t, dir)
		f := &fake{t: t}
		u := f.upgrader(4)
		_, _, cerr := u.check(dir)
		perr := u.prepare(dir, slog.New(slog.DiscardHandler))
		for _, err := range []error{cerr, perr} {
			if !errors.Is(err, ErrBadFormatFile) || !strings.Contains(err.Error(), fmt.Sprintf("%q", content)) ||
				!strings.Contains(err.Error(), dir) {
				t.Errorf("FORMAT %q: err = %v; want ErrBadFormatFile naming the dir and the content", content, err)
			}
		}
		if len(f.ran) != 0 {
			t.Errorf("FORMAT %q: steps ran %v", content, f.ran)
		}
		wantUnchanged(t, dir, before)
	}
}

func TestNewerFormatRefused(t *testing.T) {
	for content, want := range map[string][]string{
		"5\n":                  {"is format 5,", "reads format 4 and older"},
		"5 upgrading from 4\n": {"is format 5 (an upgrade from format 4 to 5 did not finish)", "reads format 4 and older"},
	} {
		dir := format1Dir(t)
		writeRaw(t, dir, content)
		before := tree(t, dir)
		f := &fake{t: t}
		u := f.upgrader(4)
		_, _, cerr := u.check(dir)
		perr := u.prepare(dir, slog.New(slog.DiscardHandler))
		for _, err := range []error{cerr, perr} {
			if !errors.Is(err, ErrNewerFormat) {
				t.Errorf("FORMAT %q: err = %v; want ErrNewerFormat", content, err)
				continue
			}
			for _, w := range append(want, dir) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("FORMAT %q: %q does not say %q", content, err, w)
				}
			}
		}
		if len(f.ran) != 0 {
			t.Errorf("FORMAT %q: steps ran %v", content, f.ran)
		}
		wantUnchanged(t, dir, before)
	}
}

// The exported Check names this ebs's format.
func TestCheckNamesBothVersions(t *testing.T) {
	dir := t.TempDir()
	writeRaw(t, dir, fmt.Sprintf("%d\n", Current+1))
	err := Check(dir)
	want := fmt.Sprintf("data dir %s is format %d, but this ebs reads format %d and older", dir, Current+1, Current)
	if !errors.Is(err, ErrNewerFormat) || !strings.Contains(err.Error(), want) {
		t.Fatalf("Check = %v; want %q", err, want)
	}
}

// A step that fails leaves FORMAT at "n+1 upgrading from n": an ebs of
// format n refuses it, and the next start runs that step again.
func TestFailedStepRunsAgainAtNextStart(t *testing.T) {
	dir := format1Dir(t)
	f := &fake{t: t, fail: map[int]int{3: 1}}
	u := f.upgrader(4)
	err := u.prepare(dir, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "injected failure") || !strings.Contains(err.Error(), "from format 2 to 3") {
		t.Fatalf("prepare with a failing step: %v", err)
	}
	wantFormat(t, dir, "3 upgrading from 2\n")
	if _, _, err := (&fake{t: t}).upgrader(2).check(dir); !errors.Is(err, ErrNewerFormat) {
		t.Fatalf("an ebs of format 2 on a half-upgraded dir: %v; want ErrNewerFormat", err)
	}
	log, logs := logBuffer()
	if err := u.prepare(dir, log); err != nil {
		t.Fatal(err)
	}
	if want := []string{"1->2", "2->3", "2->3", "3->4"}; !slices.Equal(f.ran, want) {
		t.Fatalf("steps ran %v, want %v", f.ran, want)
	}
	wantFormat(t, dir, "4\n")
	wantInOrder(t, logs.String(), "did not finish", "upgrading data dir from format 2 to 3", "upgrading data dir from format 3 to 4")
}

const crashEnv = "DATADIR_TEST_CRASH_IN_STEP"

// A process killed in the middle of a step: the next start runs the step
// again and finishes it.
func TestCrashInStepRunsAgainAtNextStart(t *testing.T) {
	if dir := os.Getenv(crashEnv); dir != "" {
		crashingUpgrade(dir)
		return
	}
	dir := format1Dir(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashInStepRunsAgainAtNextStart$")
	cmd.Env = append(os.Environ(), crashEnv+"="+dir)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the upgrading process was not killed: %v\n%s", err, out)
	}
	wantFormat(t, dir, "3 upgrading from 2\n")
	if b, _ := os.ReadFile(filepath.Join(dir, "half")); string(b) != "half done" {
		t.Fatalf("the killed step left %q", b)
	}

	var ran []string
	u := upgrader{current: 3, steps: []step{
		{to: 2, what: "nothing", run: func(string, *slog.Logger) error { ran = append(ran, "1->2"); return nil }},
		{to: 3, what: "finish", run: func(dir string, _ *slog.Logger) error {
			ran = append(ran, "2->3")
			if err := os.WriteFile(filepath.Join(dir, "whole"), []byte("all done"), 0o600); err != nil {
				return err
			}
			return os.RemoveAll(filepath.Join(dir, "half"))
		}},
	}}
	if err := u.prepare(dir, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ran, []string{"2->3"}) {
		t.Fatalf("steps ran %v after the crash, want only 2->3 again", ran)
	}
	wantFormat(t, dir, "3\n")
	if _, err := os.Stat(filepath.Join(dir, "half")); !os.IsNotExist(err) {
		t.Fatalf("the step's partial result is still there: %v", err)
	}
}

// crashingUpgrade runs in a child process: its step to format 3 does half
// of its work, then the process is killed.
func crashingUpgrade(dir string) {
	u := upgrader{current: 3, steps: []step{
		{to: 2, what: "nothing", run: func(string, *slog.Logger) error { return nil }},
		{to: 3, what: "crash", run: func(dir string, _ *slog.Logger) error {
			os.WriteFile(filepath.Join(dir, "half"), []byte("half done"), 0o600)
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}},
	}}
	u.prepare(dir, slog.New(slog.DiscardHandler))
	os.Exit(0) // not reached
}

func TestStepsLeadToCurrent(t *testing.T) {
	if err := std.validate(); err != nil {
		t.Fatal(err)
	}
	bad := upgrader{current: 3, steps: []step{{to: 2, run: upgrade1to2}, {to: 4, run: upgrade1to2}}}
	if err := bad.validate(); err == nil {
		t.Fatal("validate accepts a step that skips a version")
	}
	if err := bad.prepare(t.TempDir(), slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("prepare runs a history that skips a version")
	}
}

// Format 2 is format 1 plus FORMAT: the real step changes no other byte,
// and a second start does nothing.
func TestUpgrade1To2(t *testing.T) {
	dir := format1Dir(t)
	before := tree(t, dir)
	log, logs := logBuffer()
	if err := Prepare(dir, log); err != nil {
		t.Fatal(err)
	}
	wantFormat(t, dir, "2\n")
	before[FileName] = "2\n"
	wantUnchanged(t, dir, before)
	wantInOrder(t, logs.String(), "upgrading data dir from format 1 to 2", "data dir upgraded to format 2")

	log, logs = logBuffer()
	if err := Prepare(dir, log); err != nil {
		t.Fatal(err)
	}
	wantUnchanged(t, dir, before)
	if strings.Contains(logs.String(), "upgrading") {
		t.Fatalf("a second start upgraded again:\n%s", logs)
	}
	// Run again over its own result, as after a crash before FORMAT said 2.
	if err := upgrade1to2(dir, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	wantUnchanged(t, dir, before)
}

func wantUnchanged(t *testing.T, dir string, before map[string]string) {
	t.Helper()
	after := tree(t, dir)
	for p, b := range before {
		if a, ok := after[p]; !ok || a != b {
			t.Errorf("%s changed: %q -> %q (present %v)", p, b, a, ok)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			t.Errorf("%s appeared", p)
		}
	}
}

// wantInOrder checks that the log holds each string, in this order.
func wantInOrder(t *testing.T, log string, want ...string) {
	t.Helper()
	rest := log
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Fatalf("log does not hold %q after the previous lines:\n%s", w, log)
		}
		rest = rest[i+len(w):]
	}
}

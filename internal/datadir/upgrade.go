package datadir

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

var (
	// ErrNewerFormat: the data dir was made or upgraded by a newer ebs.
	ErrNewerFormat = errors.New("data dir format is newer than this ebs")
	// ErrBadFormatFile: FORMAT holds something that is not a format version.
	ErrBadFormatFile = errors.New("the FORMAT file does not hold a format version")
)

// refusalError is a data dir this ebs will not open: its message is the
// whole explanation, and it matches its kind with errors.Is.
type refusalError struct {
	msg  string
	kind error
}

func (e *refusalError) Error() string { return e.msg }
func (e *refusalError) Unwrap() error { return e.kind }

func refusal(kind error, format string, args ...any) error {
	return &refusalError{msg: fmt.Sprintf(format, args...), kind: kind}
}

// step upgrades a data dir from format to-1 to format to. It must be safe
// to run again over its own partial or complete result (see doc.go).
type step struct {
	to   int
	what string // what it changes, for the log
	run  func(dir string, log *slog.Logger) error
}

// upgrader applies steps up to current; steps[i] goes from i+1 to i+2.
type upgrader struct {
	current int
	steps   []step
}

// std is this ebs's format and history (steps.go).
var std = upgrader{current: Current, steps: steps}

// Check reads dir's format without changing anything. It fails when the
// FORMAT file is unreadable or names a format newer than Current; a data dir
// that does not exist yet, or has no FORMAT file, passes.
func Check(dir string) error {
	_, _, err := std.check(dir)
	return err
}

// Prepare brings dir to the Current format before any store is opened: a
// new data dir gets a FORMAT file, an older one is upgraded step by step
// (each logged), a newer one is refused. The caller holds the data dir's
// lock.
func Prepare(dir string, log *slog.Logger) error {
	return std.prepare(dir, log)
}

func (u upgrader) check(dir string) (s state, ok bool, err error) {
	if s, ok, err = readState(dir); err != nil || !ok {
		return s, ok, err
	}
	if s.version > u.current {
		return s, ok, refusal(ErrNewerFormat, "data dir %s is %s, but this ebs reads format %d and older: "+
			"run the newer ebs that wrote it (the data dir was not changed)", dir, s.describe(), u.current)
	}
	return s, ok, nil
}

func (u upgrader) prepare(dir string, log *slog.Logger) error {
	if err := u.validate(); err != nil {
		return err
	}
	s, ok, err := u.check(dir)
	if err != nil {
		return err
	}
	if !ok {
		fresh, err := isNew(dir)
		if err != nil {
			return err
		}
		if fresh {
			log.Info("new data dir", "dir", dir, "format", u.current)
			return writeState(dir, state{version: u.current})
		}
		s = state{version: 1}
	}
	v := s.version
	if s.from != 0 {
		log.Warn("an upgrade of the data dir did not finish: running it again", "dir", dir, "from", s.from, "to", s.version)
		v = s.from
	}
	for ; v < u.current; v++ {
		if err := u.upgrade(dir, v, log); err != nil {
			return err
		}
	}
	log.Debug("data dir format", "dir", dir, "format", v)
	return nil
}

// upgrade runs the step from format from to from+1, between the two writes
// of FORMAT that make it crash safe.
func (u upgrader) upgrade(dir string, from int, log *slog.Logger) error {
	st := u.steps[from-1]
	log.Info(fmt.Sprintf("upgrading data dir from format %d to %d", from, st.to), "dir", dir, "step", st.what)
	start := time.Now()
	if err := writeState(dir, state{version: st.to, from: from}); err != nil {
		return fmt.Errorf("upgrade data dir %s: %w", dir, err)
	}
	if err := st.run(dir, log); err != nil {
		return fmt.Errorf("upgrade data dir %s from format %d to %d (it runs again at the next start): %w", dir, from, st.to, err)
	}
	if err := writeState(dir, state{version: st.to}); err != nil {
		return fmt.Errorf("upgrade data dir %s: %w", dir, err)
	}
	log.Info(fmt.Sprintf("data dir upgraded to format %d", st.to), "dir", dir, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// validate checks that the steps lead from format 1 to current, one
// version at a time.
func (u upgrader) validate() error {
	if len(u.steps) != u.current-1 {
		return fmt.Errorf("datadir: %d upgrade steps for format %d", len(u.steps), u.current)
	}
	for i, st := range u.steps {
		if st.to != i+2 || st.run == nil {
			return fmt.Errorf("datadir: upgrade step %d goes to format %d", i, st.to)
		}
	}
	return nil
}

// format1Entries are what ebs of format 1 made in a data dir. A data dir
// without FORMAT that holds none of them holds no data: it is new.
var format1Entries = []string{"kms", "meta", "blocks", "cloudtrail", "iam"}

// isNew reports whether a data dir without FORMAT holds no data.
func isNew(dir string) (bool, error) {
	for _, name := range format1Entries {
		_, err := os.Lstat(filepath.Join(dir, name))
		if err == nil {
			return false, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return false, fmt.Errorf("data dir %s: %w", dir, err)
		}
	}
	return true, nil
}

package datadir

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ebs-dev/ebs/internal/durable"
)

// FileName is the name of the format file in the data dir.
const FileName = "FORMAT"

// tmpName is where a new FORMAT is written before it is renamed over the
// old one (by durable.WriteFile); a leftover from a crash is overwritten.
const tmpName = "." + FileName + ".tmp"

// maxFileSize bounds what readState reads: a FORMAT file is a few bytes.
const maxFileSize = 64

// state is what a FORMAT file says.
type state struct {
	version int // the data dir's format, or the one an upgrade is making
	from    int // not 0: an upgrade from format from to version was interrupted
}

// encode is the file's content: "2\n", or "3 upgrading from 2\n".
func (s state) encode() []byte {
	if s.from != 0 {
		return fmt.Appendf(nil, "%d upgrading from %d\n", s.version, s.from)
	}
	return fmt.Appendf(nil, "%d\n", s.version)
}

// describe names the state for messages.
func (s state) describe() string {
	if s.from != 0 {
		return fmt.Sprintf("format %d (an upgrade from format %d to %d did not finish)", s.version, s.from, s.version)
	}
	return fmt.Sprintf("format %d", s.version)
}

// parseState reads a FORMAT file's content strictly: exactly what encode
// writes, for a version of at least 1 and an upgrade of one version.
func parseState(b []byte) (state, error) {
	line, ok := strings.CutSuffix(string(b), "\n")
	if !ok {
		return state{}, ErrBadFormatFile
	}
	ver, from, upgrading := strings.Cut(line, " upgrading from ")
	s := state{version: parseVersion(ver)}
	if upgrading {
		s.from = parseVersion(from)
		if s.from == 0 || s.from != s.version-1 {
			return state{}, ErrBadFormatFile
		}
	}
	if s.version == 0 {
		return state{}, ErrBadFormatFile
	}
	return s, nil
}

// parseVersion reads a decimal version >= 1 without sign, spaces or
// leading zeros; anything else is 0.
func parseVersion(s string) int {
	if s == "" || len(s) > 9 || s[0] == '0' || strings.Trim(s, "0123456789") != "" {
		return 0
	}
	v, _ := strconv.Atoi(s)
	return v
}

// readState reads dir's FORMAT file; ok is false when there is none.
func readState(dir string) (s state, ok bool, err error) {
	f, err := os.Open(filepath.Join(dir, FileName))
	if errors.Is(err, os.ErrNotExist) {
		return state{}, false, nil
	}
	if err != nil {
		return state{}, false, fmt.Errorf("data dir %s: %w", dir, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return state{}, false, fmt.Errorf("data dir %s: read %s: %w", dir, FileName, err)
	}
	if s, err = parseState(b); err != nil {
		return state{}, false, refusal(err, "data dir %s: %s holds %q, which is not a format version: "+
			"refusing to guess (the data dir was not changed)", dir, FileName, b)
	}
	return s, true, nil
}

// writeState replaces dir's FORMAT file atomically: a temporary file,
// fsync, rename, fsync of the dir.
func writeState(dir string, s state) error {
	return durable.WriteFile(filepath.Join(dir, FileName), s.encode(), 0o600)
}

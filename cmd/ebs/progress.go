package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// defaultPollInterval is how often waiters and encrypt-volume --wait ask
// the daemon.
const defaultPollInterval = 500 * time.Millisecond

// writerIsTerminal reports whether w is a terminal (and so may show a
// progress bar).
func writerIsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progressBar is a 0-100 % bar on stderr. A nil *progressBar (stderr is
// not a terminal) does nothing.
type progressBar struct {
	bar  *progressbar.ProgressBar
	done bool
}

// newProgressBar starts a bar on a.stderr if it is a terminal, else
// returns nil.
func (a *app) newProgressBar(description string) *progressBar {
	if a.isTerminal == nil || !a.isTerminal(a.stderr) {
		return nil
	}
	w := a.stderr
	bar := progressbar.NewOptions(100,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(description),
		progressbar.OptionSetWidth(30),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
		progressbar.OptionSetRenderBlankState(true),
	)
	return &progressBar{bar: bar}
}

// set shows percent, at most 99 %: only finish shows 100 %.
func (p *progressBar) set(percent int) {
	if p == nil || p.done {
		return
	}
	_ = p.bar.Set(min(max(percent, 0), 99))
}

// finish fills the bar and ends its line.
func (p *progressBar) finish() {
	if p == nil || p.done {
		return
	}
	p.done = true
	_ = p.bar.Finish()
}

// stop leaves the bar as it is and ends its line; after finish it does
// nothing.
func (p *progressBar) stop() {
	if p == nil || p.done {
		return
	}
	p.done = true
	_ = p.bar.Exit()
}

// percent is a progress percentage as the daemon sends it: "45%" (EC2's
// Snapshot.Progress), "45" or 45.
type percent int

func (p *percent) UnmarshalJSON(data []byte) error {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	switch t := v.(type) {
	case nil:
		*p = 0
	case float64:
		*p = percent(t)
	case string:
		s := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(t), "%"))
		if s == "" {
			*p = 0
			return nil
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("invalid progress %q", t)
		}
		*p = percent(f)
	default:
		return fmt.Errorf("invalid progress %s", data)
	}
	return nil
}

// pause waits d, or returns ctx's error if it ends first.
func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// failuref returns an error that exits with exitFailure, as a waiter's
// failure does in the AWS CLI.
func failuref(format string, args ...any) error {
	return &exitError{code: exitFailure, err: fmt.Errorf(format, args...)}
}

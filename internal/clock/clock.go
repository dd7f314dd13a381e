// Package clock gives the daemon an injectable notion of "now".
//
// Key rotation and key deletion happen when the clock passes a date that is
// months away. Tests, and `ebs serve --clock-offset` for demos, move a Clock
// forward instead of waiting.
//
// Locks: Offset.mu, a leaf.
package clock

import (
	"sync"
	"time"
)

// Clock tells the time.
type Clock interface {
	Now() time.Time
}

// Real is the system clock.
type Real struct{}

// Now returns time.Now in UTC.
func (Real) Now() time.Time { return time.Now().UTC() }

// Offset is the system clock shifted by an adjustable offset. It is safe for
// concurrent use.
type Offset struct {
	mu     sync.Mutex
	offset time.Duration
}

// NewOffset returns a clock that runs d ahead of the system clock.
func NewOffset(d time.Duration) *Offset { return &Offset{offset: d} }

// Now returns the shifted time in UTC.
func (o *Offset) Now() time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	return time.Now().UTC().Add(o.offset)
}

// Advance moves the clock forward by d (backward if d is negative) and returns
// the new offset.
func (o *Offset) Advance(d time.Duration) time.Duration {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.offset += d
	return o.offset
}

// Every calls fn every interval until stop is closed (never, for a
// negative interval), then returns. It measures real time: it is for
// background housekeeping, not for the dates a Clock decides.
func Every(stop <-chan struct{}, interval time.Duration, fn func()) {
	if interval < 0 {
		<-stop
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			fn()
		}
	}
}

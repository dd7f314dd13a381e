// Package awstime encodes timestamps the way AWS JSON protocols do: as JSON
// numbers of seconds since the Unix epoch, with a fractional part for
// milliseconds. It also accepts RFC 3339 strings on input.
package awstime

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Epoch is a time that encodes as epoch seconds.
type Epoch struct{ time.Time }

// New wraps t, truncated to milliseconds as AWS reports it.
func New(t time.Time) *Epoch {
	e := Epoch{t.UTC().Truncate(time.Millisecond)}
	return &e
}

// MarshalJSON writes seconds since the epoch, e.g. 1764335259.123.
func (e Epoch) MarshalJSON() ([]byte, error) {
	ms := e.UnixMilli()
	return []byte(strconv.FormatFloat(float64(ms)/1000, 'f', -1, 64)), nil
}

// UnmarshalJSON reads epoch seconds (integer or fractional) or an RFC 3339 string.
func (e *Epoch) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return fmt.Errorf("timestamp %q: %w", s, err)
		}
		e.Time = t.UTC()
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("timestamp must be epoch seconds or RFC 3339: %w", err)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e13 {
		return fmt.Errorf("timestamp %v out of range", f)
	}
	sec, frac := math.Modf(f)
	e.Time = time.Unix(int64(sec), int64(math.Round(frac*1000))*int64(time.Millisecond)).UTC()
	return nil
}

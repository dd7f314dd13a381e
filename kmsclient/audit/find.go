package audit

import (
	"bytes"
	"encoding/json"
)

// Contains reports which of eventIDs are the EventID of a record at or after
// byte offset since in the synced part of the trail. An outbox replays its
// records with it exactly once: since is the trail's DurableSize when the
// records were stored, so whatever of them was appended lies after it.
func (t *Trail) Contains(since int64, eventIDs []string) (map[string]bool, error) {
	t.reading.RLock()
	defer t.reading.RUnlock()
	size, err := t.snapshot()
	if err != nil {
		return nil, err
	}
	found := make(map[string]bool, len(eventIDs))
	if len(eventIDs) == 0 {
		return found, nil
	}
	err = t.forEachLine(min(max(since, 0), size), size, func(line []byte) {
		for _, id := range eventIDs {
			if !found[id] && bytes.Contains(line, []byte(id)) && lineEventID(line) == id {
				found[id] = true
			}
		}
	})
	return found, err
}

func lineEventID(line []byte) string {
	var r struct {
		EventID string `json:"eventID"`
	}
	if json.Unmarshal(line, &r) != nil {
		return ""
	}
	return r.EventID
}

// forEachLine calls fn for every whole line in f[from:to), without its
// newline, reading forward in chunks. A line cut by from or to is skipped or
// passed partial; callers give offsets at line boundaries.
func (t *Trail) forEachLine(from, to int64, fn func(line []byte)) error {
	var carry []byte
	chunk := make([]byte, t.chunk)
	for off := from; off < to; {
		n := int(min(int64(len(chunk)), to-off))
		if _, err := t.f.ReadAt(chunk[:n], off); err != nil {
			return err
		}
		off += int64(n)
		data := append(carry, chunk[:n]...)
		for {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				break
			}
			fn(data[:i])
			data = data[i+1:]
		}
		carry = bytes.Clone(data)
	}
	return nil
}

package embedded

import (
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/ebs-dev/ebs/internal/awserr"
	"github.com/ebs-dev/ebs/internal/kv"
	"github.com/ebs-dev/ebs/kmsclient"
)

// page calls fn for up to limit records under prefix, starting at marker (an
// opaque NextMarker of an earlier page), and returns the marker of the next
// page, or "" when there is none.
func page[T any](tx *kv.Txn, prefix string, limit int, marker string, fn func(*T)) (string, error) {
	if limit == 0 {
		limit = 100
	}
	if limit < 1 || limit > 1000 {
		return "", awserr.New(kmsclient.ErrValidation, "1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and 1000", limit)
	}
	start := []byte(prefix)
	if marker != "" {
		raw, err := base64.RawURLEncoding.DecodeString(marker)
		if err != nil || len(raw) < len(prefix) || string(raw[:len(prefix)]) != prefix {
			return "", awserr.New(kmsclient.ErrInvalidMarker, "The marker %q is not valid.", marker)
		}
		start = raw
	}
	n, next := 0, ""
	err := tx.Scan([]byte(prefix), start, func(k, v []byte) error {
		if n == limit {
			next = base64.RawURLEncoding.EncodeToString(k)
			return kv.ErrStop
		}
		rec := new(T)
		if err := json.Unmarshal(v, rec); err != nil {
			return fmt.Errorf("decode %s: %w", k, err)
		}
		fn(rec)
		n++
		return nil
	})
	return next, err
}

package audit

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/ebs-dev/ebs/internal/awserr"
)

// Lookup errors. They come wrapped in an *awserr.Error carrying the message
// to show; the API maps ErrInvalidNextToken to InvalidNextTokenException and
// ErrAccessDenied to AccessDeniedException.
var (
	ErrInvalidQuery     = errors.New("invalid lookup query")
	ErrInvalidNextToken = errors.New("invalid next token")
	ErrAccessDenied     = errors.New("not authorized to look up events")
)

// AuthorizeLookup decides whether a principal may read the trail
// (CloudTrail's LookupEvents) in account: the account's root may; any other
// principal needs an IAM policy that allows cloudtrail:LookupEvents, and
// this daemon has no IAM policies, so no other principal may. The audit
// trail shows who used which key, with which encryption context: it is not
// for every user of the account to read.
func AuthorizeLookup(principalArn, account string) error {
	if principalArn == "arn:aws:iam::"+account+":root" {
		return nil
	}
	return awserr.New(ErrAccessDenied, "User: %s is not authorized to perform: cloudtrail:LookupEvents "+
		"because no identity-based policy allows the cloudtrail:LookupEvents action", principalArn)
}

// MaxLookupResults is CloudTrail's page size limit for LookupEvents.
const MaxLookupResults = 50

// Query selects records for Lookup. Empty fields match everything.
type Query struct {
	EventName    string    // exact match
	ResourceName string    // a resource's ARN, or the key id after "key/" in it
	Username     string    // exact match on Record.Username
	StartTime    time.Time // inclusive; zero means no lower bound
	EndTime      time.Time // inclusive; zero means no upper bound
	MaxResults   int       // 1..50; 0 means 50
	NextToken    string    // from a previous Lookup with the same filters
}

// Lookup returns the records matching q, newest first, and a token for the
// next page ("" when there are no more). It sees records whose Append has
// returned. A token may lead to an empty last page. Corrupt lines are skipped.
//
// Each call scans backwards from the token's position until it has a full page
// or reaches the start of the file, so a selective filter over a long trail
// reads far back. A StartTime does not stop the scan early: records are in
// append order, which callers' clocks need not keep.
func (t *Trail) Lookup(q Query) ([]Record, string, error) {
	limit, err := q.validate()
	if err != nil {
		return nil, "", err
	}
	t.reading.RLock()
	defer t.reading.RUnlock()
	size, err := t.snapshot()
	if err != nil {
		return nil, "", err
	}
	end := size
	if q.NextToken != "" {
		if end, err = t.decodeToken(q.NextToken, size); err != nil {
			return nil, "", err
		}
	}
	return t.scan(q, limit, end)
}

func (q *Query) validate() (int, error) {
	if q.MaxResults < 0 || q.MaxResults > MaxLookupResults {
		return 0, awserr.New(ErrInvalidQuery,
			"MaxResults must be between 1 and %d, got %d.", MaxLookupResults, q.MaxResults)
	}
	if !q.StartTime.IsZero() && !q.EndTime.IsZero() && q.EndTime.Before(q.StartTime) {
		return 0, awserr.New(ErrInvalidQuery, "Start time must not be after end time.")
	}
	if q.MaxResults == 0 {
		return MaxLookupResults, nil
	}
	return q.MaxResults, nil
}

// scan collects up to limit matching records from the lines before end.
func (t *Trail) scan(q Query, limit int, end int64) ([]Record, string, error) {
	var out []Record
	s := newBackScanner(t.f, end, t.chunk)
	for len(out) < limit {
		line, start, err := s.prev()
		if err == io.EOF {
			return out, "", nil
		}
		if err != nil {
			return nil, "", err
		}
		var r Record
		if json.Unmarshal(line, &r) != nil || r.EventID == "" {
			continue // corrupt (or not a record); it hides nothing else
		}
		if q.matches(&r) {
			out = append(out, r)
		}
		if len(out) == limit && start > 0 {
			return out, encodeToken(start), nil
		}
	}
	return out, "", nil
}

func (q *Query) matches(r *Record) bool {
	switch {
	case q.EventName != "" && r.EventName != q.EventName:
		return false
	case q.Username != "" && r.Username() != q.Username:
		return false
	case !q.StartTime.IsZero() && r.EventTime.Before(q.StartTime):
		return false
	case !q.EndTime.IsZero() && r.EventTime.After(q.EndTime):
		return false
	case q.ResourceName != "":
		return hasResource(r.Resources, q.ResourceName)
	}
	return true
}

func hasResource(rs []Resource, name string) bool {
	for _, res := range rs {
		if res.ARN == name || keyIDOf(res.ARN) == name {
			return true
		}
	}
	return false
}

// A next token is the base64 of "v1:<offset>": the byte offset just past the
// line to continue before.
const tokenPrefix = "v1:"

func encodeToken(off int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(tokenPrefix + strconv.FormatInt(off, 10)))
}

// decodeToken returns the offset in token after checking it falls on a line
// boundary of the synced part of the file.
func (t *Trail) decodeToken(token string, size int64) (int64, error) {
	invalid := awserr.New(ErrInvalidNextToken, "Invalid NextToken: %q.", token)
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return 0, invalid
	}
	digits, ok := strings.CutPrefix(string(raw), tokenPrefix)
	if !ok {
		return 0, invalid
	}
	off, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || off <= 0 || off > size {
		return 0, invalid
	}
	var last [1]byte
	if _, err := t.f.ReadAt(last[:], off-1); err != nil {
		return 0, err
	}
	if last[0] != '\n' {
		return 0, invalid
	}
	return off, nil
}

// backScanner returns the lines of a file before an offset, last first.
type backScanner struct {
	r     io.ReaderAt
	base  int64  // file offset of buf[0]
	buf   []byte // bytes not yet returned; empty or ending in '\n'
	chunk int
}

// newBackScanner scans r[0:end); end must be 0 or just past a '\n'.
func newBackScanner(r io.ReaderAt, end int64, chunk int) *backScanner {
	return &backScanner{r: r, base: end, chunk: chunk}
}

// prev returns the line before the current position, without its newline,
// and the offset it starts at. It returns io.EOF at the start of the file.
func (s *backScanner) prev() ([]byte, int64, error) {
	for {
		if len(s.buf) > 0 {
			body := s.buf[:len(s.buf)-1]
			i := bytes.LastIndexByte(body, '\n')
			if i >= 0 || s.base == 0 { // a whole line is in buf
				s.buf = s.buf[:i+1]
				return body[i+1:], s.base + int64(i+1), nil
			}
		} else if s.base == 0 {
			return nil, 0, io.EOF
		}
		if err := s.readMore(); err != nil {
			return nil, 0, err
		}
	}
}

// readMore prepends to buf up to one chunk of the bytes before it, or as many
// bytes as buf already holds if that is more, so a long line costs linear time.
func (s *backScanner) readMore() error {
	start := max(s.base-int64(max(s.chunk, len(s.buf))), 0)
	n := int(s.base - start)
	grown := make([]byte, n+len(s.buf))
	if _, err := s.r.ReadAt(grown[:n], start); err != nil {
		return err
	}
	copy(grown[n:], s.buf)
	s.buf, s.base = grown, start
	return nil
}

package audit

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ebs-dev/ebs/internal/awserr"
)

// seqs returns the test sequence numbers of rs, in order.
func seqs(rs []Record) []int {
	out := make([]int, len(rs))
	for i, r := range rs {
		out[i] = int(r.RequestParameters["seq"].(float64))
	}
	return out
}

// wantSeqs returns, newest first, the i in [0,n) for which keep is true.
func wantSeqs(n int, keep func(i int) bool) []int {
	var out []int
	for i := n - 1; i >= 0; i-- {
		if keep(i) {
			out = append(out, i)
		}
	}
	return out
}

func TestLookupNewestFirst(t *testing.T) {
	tr, _ := openTrail(t)
	appendN(t, tr, 0, 10)
	got, next, err := tr.Lookup(Query{})
	if err != nil || next != "" {
		t.Fatalf("Lookup: next %q, err %v", next, err)
	}
	if want := wantSeqs(10, func(int) bool { return true }); !slices.Equal(seqs(got), want) {
		t.Errorf("order %v, want %v", seqs(got), want)
	}
}

func TestLookupFilters(t *testing.T) {
	const n = 60
	tr, _ := openTrail(t)
	appendN(t, tr, 0, n)
	at := func(sec int) time.Time { return testBase.Add(time.Duration(sec) * time.Second) }
	tests := []struct {
		name string
		q    Query
		keep func(i int) bool
	}{
		{"all", Query{}, func(int) bool { return true }},
		{"event name", Query{EventName: "CreateGrant"}, func(i int) bool { return i%4 == 2 }},
		{"event name no match", Query{EventName: "decrypt"}, func(int) bool { return false }},
		{"resource arn", Query{ResourceName: keyARN(1)}, func(i int) bool { return i%3 == 1 }},
		{"resource key id", Query{ResourceName: "0987dcba-09fe-87dc-65ba-ab0987654321"}, func(i int) bool { return i%3 == 1 }},
		{"resource prefix", Query{ResourceName: "0987dcba"}, func(int) bool { return false }},
		{"username", Query{Username: "alice"}, func(i int) bool { return i%3 == 0 }},
		{"username root", Query{Username: "root"}, func(i int) bool { return i%3 == 2 }},
		{"username access key", Query{Username: "AKIAALICE"}, func(int) bool { return false }},
		{"time range inclusive", Query{StartTime: at(10), EndTime: at(19)}, func(i int) bool { return i >= 10 && i <= 19 }},
		{"one instant", Query{StartTime: at(7), EndTime: at(7)}, func(i int) bool { return i == 7 }},
		{"start only", Query{StartTime: at(50)}, func(i int) bool { return i >= 50 }},
		{"end only", Query{EndTime: at(9)}, func(i int) bool { return i <= 9 }},
		{"end in other zone", Query{EndTime: at(9).In(time.FixedZone("X", -5*3600))}, func(i int) bool { return i <= 9 }},
		{"combined", Query{EventName: "Decrypt", Username: "alice", StartTime: at(1)}, func(i int) bool { return i%12 == 0 && i >= 1 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := lookupAll(t, tr, tc.q)
			if want := wantSeqs(n, tc.keep); !slices.Equal(seqs(got), want) {
				t.Errorf("got %v\nwant %v", seqs(got), want)
			}
		})
	}
}

func TestLookupValidation(t *testing.T) {
	tr, _ := openTrail(t)
	bad := []Query{
		{MaxResults: -1},
		{MaxResults: 51},
		{StartTime: testBase, EndTime: testBase.Add(-time.Second)},
	}
	for _, q := range bad {
		_, _, err := tr.Lookup(q)
		if !errors.Is(err, ErrInvalidQuery) || awserr.Message(err) == "" {
			t.Errorf("Lookup(%+v) = %v, want ErrInvalidQuery with a message", q, err)
		}
	}
	for _, q := range []Query{{MaxResults: 1}, {MaxResults: 50}, {StartTime: testBase, EndTime: testBase}} {
		if _, _, err := tr.Lookup(q); err != nil {
			t.Errorf("Lookup(%+v) = %v", q, err)
		}
	}
}

func TestLookupPaging(t *testing.T) {
	const n = 1000
	tr, _ := openTrail(t)
	appendN(t, tr, 0, n)
	tests := []struct {
		name  string
		q     Query
		chunk int
		keep  func(i int) bool
	}{
		{"full pages", Query{MaxResults: 50}, defaultChunk, func(int) bool { return true }},
		{"odd pages, small chunks", Query{MaxResults: 7}, 100, func(int) bool { return true }},
		{"filtered", Query{MaxResults: 9, EventName: "Decrypt"}, 333, func(i int) bool { return i%4 == 0 }},
		{"one byte chunks", Query{MaxResults: 50, Username: "bob"}, 1, func(i int) bool { return i%3 == 1 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr.chunk = tc.chunk
			defer func() { tr.chunk = defaultChunk }()
			q, pages := tc.q, 0
			var got []Record
			for {
				rs, next, err := tr.Lookup(q)
				if err != nil {
					t.Fatal(err)
				}
				if len(rs) > q.MaxResults {
					t.Fatalf("page of %d, MaxResults %d", len(rs), q.MaxResults)
				}
				got, pages = append(got, rs...), pages+1
				if next == "" {
					break
				}
				q.NextToken = next
			}
			if want := wantSeqs(n, tc.keep); !slices.Equal(seqs(got), want) {
				t.Errorf("got %d records %v...\nwant %d records %v...", len(got), head(seqs(got)), len(want), head(want))
			}
			t.Logf("%d pages", pages)
		})
	}
}

func head(s []int) []int { return s[:min(len(s), 10)] }

func TestLookupLastPageHasNoToken(t *testing.T) {
	tr, _ := openTrail(t)
	appendN(t, tr, 0, 100)
	q, pages := Query{}, 0
	for {
		_, next, err := tr.Lookup(q)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if next == "" {
			break
		}
		q.NextToken = next
	}
	if pages != 2 {
		t.Errorf("100 records in pages of 50 took %d lookups, want 2", pages)
	}
}

func TestNextTokenSurvivesAppends(t *testing.T) {
	tr, _ := openTrail(t)
	appendN(t, tr, 0, 30)
	first, next, err := tr.Lookup(Query{MaxResults: 10})
	if err != nil || next == "" {
		t.Fatalf("Lookup: %v, next %q", err, next)
	}
	appendN(t, tr, 30, 40)
	rest := lookupAll(t, tr, Query{MaxResults: 10, NextToken: next})
	got := append(seqs(first), seqs(rest)...)
	if want := wantSeqs(30, func(int) bool { return true }); !slices.Equal(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
}

func token(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestInvalidNextToken(t *testing.T) {
	tr, _ := openTrail(t)
	appendN(t, tr, 0, 5)
	_, good, err := tr.Lookup(Query{MaxResults: 2})
	if err != nil || good == "" {
		t.Fatalf("Lookup: %v, next %q", err, good)
	}
	for _, tok := range []string{
		"!!!", good + "x", token("hello"), token("v1:abc"), token("v1:0"), token("v1:-5"),
		token("v1:99999999"), token("v1:5"), token("v2:100"),
	} {
		_, _, err := tr.Lookup(Query{NextToken: tok})
		if !errors.Is(err, ErrInvalidNextToken) || awserr.Message(err) == "" {
			t.Errorf("token %q: err %v, want ErrInvalidNextToken", tok, err)
		}
	}
}

func TestCorruptMiddleLineSkipped(t *testing.T) {
	tr, path := openTrail(t)
	appendN(t, tr, 0, 3)
	tr.Close()
	garbage := "not json\nnull\n{}\n[1,2]\n\n{\"eventID\": 5}\n{\"eventID\":\"x\",\"eventTime\":\"yesterday\"}\n\x00\xff\n"
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(garbage)
	f.Close()

	tr = openAt(t, path)
	appendN(t, tr, 3, 6)
	for _, chunk := range []int{defaultChunk, 1, 17} {
		tr.chunk = chunk
		got := lookupAll(t, tr, Query{MaxResults: 2})
		if want := []int{5, 4, 3, 2, 1, 0}; !slices.Equal(seqs(got), want) {
			t.Errorf("chunk %d: got %v, want %v", chunk, seqs(got), want)
		}
	}
}

// FuzzLookup opens arbitrary file contents: Lookup must neither panic nor fail.
func FuzzLookup(f *testing.F) {
	f.Add([]byte(mustJSON(f, newRecord(0)) + "\n" + mustJSON(f, newRecord(1)) + "\n"))
	f.Add([]byte("{\"eventID\":\"a\"}\ngarbage\n{\"eventID\":\"b\""))
	f.Add([]byte("\n\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "kms.jsonl")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		tr := openAt(t, path)
		tr.chunk = 3
		lookupAll(t, tr, Query{MaxResults: 1})
	})
}

// FuzzNextToken: any token gives records or ErrInvalidNextToken, never a panic.
func FuzzNextToken(f *testing.F) {
	f.Add("")
	f.Add(token("v1:1"))
	f.Add(token("v1:100"))
	f.Add("djE6MTAw")
	f.Fuzz(func(t *testing.T, tok string) {
		tr, _ := openTrail(t)
		appendN(t, tr, 0, 3)
		_, _, err := tr.Lookup(Query{NextToken: tok})
		if err != nil && !errors.Is(err, ErrInvalidNextToken) {
			t.Fatalf("token %q: %v", tok, err)
		}
	})
}

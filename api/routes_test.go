package api

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/ebs-dev/ebs/kmsclient"
	"github.com/ebs-dev/ebs/kmsclient/audit"
)

// TestLookupEventsRootOnly checks the CloudTrail route as the unix socket
// reaches it: the account's root reads the trail, an IAM user (a non-root
// unix user) and a root of another account are refused with
// AccessDeniedException, and a caller-less context is refused too.
func TestLookupEventsRootOnly(t *testing.T) {
	trail, err := audit.Open(filepath.Join(t.TempDir(), "events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { trail.Close() })
	if err := trail.Append(&audit.Record{EventName: "CreateKey"}); err != nil {
		t.Fatal(err)
	}
	s := &Server{cfg: Config{Trail: trail, Account: testAccount, Region: testRegion}}
	for _, tc := range []struct {
		name   string
		caller *kmsclient.Caller
		ok     bool
	}{
		{"root", &kmsclient.Caller{ARN: "arn:aws:iam::000000000000:root", AccountID: testAccount, Type: "Root"}, true},
		{"user", &kmsclient.Caller{ARN: "arn:aws:iam::000000000000:user/bob", AccountID: testAccount, Type: "IAMUser", UserName: "bob"}, false},
		{"other account's root", &kmsclient.Caller{ARN: "arn:aws:iam::111122223333:root", AccountID: "111122223333", Type: "Root"}, false},
		{"no caller", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			if tc.caller != nil {
				ctx = kmsclient.WithCaller(ctx, *tc.caller)
			}
			out, err := s.lookupEvents(ctx, &lookupEventsInput{})
			if tc.ok {
				if err != nil || len(out.Events) != 1 {
					t.Fatalf("LookupEvents = %v, %v; want 1 event", out, err)
				}
				return
			}
			if code, status := Classify(err); !errors.Is(err, audit.ErrAccessDenied) || code != "AccessDeniedException" || status != 400 || out != nil {
				t.Fatalf("LookupEvents = %v, %v (%s %d); want AccessDeniedException", out, err, code, status)
			}
		})
	}
}

package audit

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"testing"
	"time"
)

const (
	testAccount = "111122223333"
	testRegion  = "us-east-1"
)

var testBase = time.Date(2025, 11, 28, 12, 0, 0, 0, time.UTC)

func keyARN(n int) string {
	return "arn:aws:kms:us-east-1:111122223333:key/" + []string{
		"1234abcd-12ab-34cd-56ef-1234567890ab",
		"0987dcba-09fe-87dc-65ba-ab0987654321",
		"11112222-3333-4444-5555-666677778888",
	}[n%3]
}

// newRecord returns the i-th test record: event, user and key cycle with i, and
// the event time is testBase plus i seconds.
func newRecord(i int) *Record {
	names := []string{"Decrypt", "GenerateDataKeyWithoutPlaintext", "CreateGrant", "CreateKey"}
	users := []Identity{
		{Type: IdentityIAMUser, PrincipalID: "AIDAEXAMPLEALICE", ARN: "arn:aws:iam::111122223333:user/alice",
			AccountID: testAccount, AccessKeyID: "AKIAALICE", UserName: "alice"},
		{Type: IdentityIAMUser, PrincipalID: "AIDAEXAMPLEBOB", ARN: "arn:aws:iam::111122223333:user/bob",
			AccountID: testAccount, AccessKeyID: "AKIABOB", UserName: "bob"},
		{Type: IdentityRoot, PrincipalID: testAccount, ARN: "arn:aws:iam::111122223333:root",
			AccountID: testAccount, AccessKeyID: "AKIAROOT"},
	}
	name := names[i%len(names)]
	r := &Record{
		UserIdentity:    users[i%len(users)],
		EventTime:       testBase.Add(time.Duration(i) * time.Second),
		EventName:       name,
		AWSRegion:       testRegion,
		SourceIPAddress: "127.0.0.1",
		UserAgent:       "aws-cli/2.0",
		RequestParameters: map[string]any{
			"keyId":             keyARN(i),
			"encryptionContext": map[string]any{"aws:ebs:id": "vol-0123456789abcdef0"},
			"seq":               i,
		},
		ReadOnly:  name == "Decrypt" || name == "GenerateDataKeyWithoutPlaintext",
		Resources: []Resource{{ARN: keyARN(i)}},
	}
	if name == "CreateGrant" {
		r.ResponseElements = map[string]any{"grantId": "grant-" + string(rune('a'+i%26))}
	}
	return r
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return string(b)
}

// topLevelKeys returns the keys of a JSON object in the order they appear.
func topLevelKeys(t *testing.T, line []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(line))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func TestRecordJSONFieldOrderAndTime(t *testing.T) {
	r := newRecord(0)
	r.ErrorCode, r.ErrorMessage = "NotFoundException", "Key not found"
	r.EventTime = time.Date(2025, 11, 28, 13, 4, 5, 987654321, time.FixedZone("CET", 3600))
	r.FillDefaults(testBase)
	b := []byte(mustJSON(t, r))

	want := []string{"eventVersion", "userIdentity", "eventTime", "eventSource", "eventName",
		"awsRegion", "sourceIPAddress", "userAgent", "errorCode", "errorMessage",
		"requestParameters", "responseElements", "requestID", "eventID", "readOnly",
		"resources", "eventType", "managementEvent", "recipientAccountId", "eventCategory"}
	if got := topLevelKeys(t, b); !slices.Equal(got, want) {
		t.Errorf("keys:\n got %v\nwant %v", got, want)
	}
	if !bytes.Contains(b, []byte(`"eventTime":"2025-11-28T12:04:05Z"`)) {
		t.Errorf("eventTime not UTC seconds: %s", b)
	}
	if !bytes.Contains(b, []byte(`"responseElements":null`)) {
		t.Errorf("responseElements should be null: %s", b)
	}
	if bytes.ContainsRune(b, '\n') {
		t.Errorf("encoded record contains a newline")
	}
}

func TestFillDefaults(t *testing.T) {
	r := &Record{EventName: "CreateKey", UserIdentity: Identity{AccountID: "999988887777"},
		Resources: []Resource{{ARN: keyARN(1)}}}
	r.FillDefaults(time.Date(2025, 1, 2, 3, 4, 5, 600, time.Local))

	uuidRE := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	for name, got := range map[string]string{"EventID": r.EventID, "RequestID": r.RequestID} {
		if !uuidRE.MatchString(got) {
			t.Errorf("%s = %q, want a UUID", name, got)
		}
	}
	checks := []struct{ name, got, want string }{
		{"EventVersion", r.EventVersion, "1.08"},
		{"EventSource", r.EventSource, "kms.amazonaws.com"},
		{"EventType", r.EventType, "AwsApiCall"},
		{"EventCategory", r.EventCategory, "Management"},
		{"Resources[0].Type", r.Resources[0].Type, "AWS::KMS::Key"},
		{"Resources[0].AccountID", r.Resources[0].AccountID, testAccount},
		{"RecipientAccountID", r.RecipientAccountID, testAccount},
		{"EventTime", r.EventTime.Format(time.RFC3339Nano), time.Date(2025, 1, 2, 3, 4, 5, 0, time.Local).UTC().Format(time.RFC3339Nano)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if !r.ManagementEvent {
		t.Error("ManagementEvent not set")
	}

	kept := &Record{EventID: "e", RequestID: "r", EventVersion: "1.09", RecipientAccountID: "x"}
	kept.FillDefaults(testBase)
	if kept.EventID != "e" || kept.RequestID != "r" || kept.EventVersion != "1.09" || kept.RecipientAccountID != "x" {
		t.Errorf("FillDefaults overwrote caller fields: %+v", kept)
	}
	noRes := &Record{UserIdentity: Identity{AccountID: "999988887777"}}
	noRes.FillDefaults(testBase)
	if noRes.RecipientAccountID != "999988887777" {
		t.Errorf("RecipientAccountID = %q, want the caller's account", noRes.RecipientAccountID)
	}
}

func TestEvent(t *testing.T) {
	tests := []struct {
		name     string
		identity Identity
		readOnly bool
		wantUser string
		wantRO   string
	}{
		{"iam user", Identity{Type: IdentityIAMUser, UserName: "alice", AccessKeyID: "AKIA1"}, true, "alice", "true"},
		{"root", Identity{Type: IdentityRoot, AccessKeyID: "AKIA2"}, false, "root", "false"},
		{"service", Identity{Type: IdentityAWSService, InvokedBy: "ec2.amazonaws.com"}, true, "ec2.amazonaws.com", "true"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRecord(0)
			r.UserIdentity, r.ReadOnly = tc.identity, tc.readOnly
			r.FillDefaults(testBase)
			e := r.Event()
			if e.Username != tc.wantUser || e.ReadOnly != tc.wantRO || e.AccessKeyID != tc.identity.AccessKeyID {
				t.Errorf("Event() = user %q readOnly %q key %q, want %q %q %q",
					e.Username, e.ReadOnly, e.AccessKeyID, tc.wantUser, tc.wantRO, tc.identity.AccessKeyID)
			}
			if e.EventID != r.EventID || e.EventName != r.EventName || e.EventSource != EventSourceKMS ||
				!e.EventTime.Time.Equal(r.EventTime) {
				t.Errorf("Event() header = %+v", e)
			}
			wantRes := []EventResource{{ResourceType: ResourceKMSKey, ResourceName: keyARN(0)}}
			if !slices.Equal(e.Resources, wantRes) {
				t.Errorf("Resources = %v, want %v", e.Resources, wantRes)
			}
			if e.CloudTrailEvent != mustJSON(t, r) {
				t.Errorf("CloudTrailEvent = %s\nwant %s", e.CloudTrailEvent, mustJSON(t, r))
			}
		})
	}
}

func TestEventWithoutResourcesEncodesEmptyList(t *testing.T) {
	r := &Record{EventName: "ListKeys"}
	r.FillDefaults(testBase)
	if got := mustJSON(t, r.Event()); !bytes.Contains([]byte(got), []byte(`"Resources":[]`)) {
		t.Errorf("Event JSON = %s, want Resources []", got)
	}
	if got := mustJSON(t, r); bytes.Contains([]byte(got), []byte(`"resources"`)) {
		t.Errorf("Record JSON = %s, want resources omitted", got)
	}
}

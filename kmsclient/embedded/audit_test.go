package embedded_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/ebs-dev/ebs/internal/awserr"
	"github.com/ebs-dev/ebs/kmsclient"
)

func rootCtx(t testing.TB, h *harness) context.Context {
	return kmsclient.WithCaller(t.Context(), kmsclient.RootCaller(h.kms.Account()))
}

func must[T any](v T, err error) func(t testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return v
	}
}

// trailReader returns the records appended to a trail file since its last
// call, decoded generically so that nulls and absent members show.
type trailReader struct {
	path  string
	lines int
}

func (r *trailReader) next(t testing.TB) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(r.path)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	if len(data) == 0 {
		lines = nil
	}
	var out []map[string]any
	for _, line := range lines[r.lines:] {
		var rec map[string]any
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatalf("trail line %q: %v", line, err)
		}
		out = append(out, rec)
	}
	r.lines = len(lines)
	return out
}

// want is what one API call's record must say.
type want struct {
	event     string
	caller    kmsclient.Caller
	resources []string       // key ARNs, in order; nil means none
	err       error          // the call's error; nil for success
	params    map[string]any // members requestParameters must have, as JSON decodes them
	absent    []string       // members requestParameters must not have
	response  any            // responseElements: nil means null; "present" means any non-null object
}

// expect checks that exactly one record was appended since the last call and
// that it says w.
func (r *trailReader) expect(t testing.TB, w want) map[string]any {
	t.Helper()
	recs := r.next(t)
	if len(recs) != 1 {
		t.Fatalf("%s: %d records appended, want 1: %v", w.event, len(recs), recs)
	}
	rec := recs[0]
	if rec["eventName"] != w.event || rec["eventSource"] != "kms.amazonaws.com" || rec["eventType"] != "AwsApiCall" || rec["awsRegion"] != "local" {
		t.Errorf("%s: eventName %v eventSource %v eventType %v awsRegion %v", w.event, rec["eventName"], rec["eventSource"], rec["eventType"], rec["awsRegion"])
	}
	checkIdentity(t, w.event, rec, w.caller)
	checkResources(t, w.event, rec, w.resources)
	if w.err == nil {
		if _, ok := rec["errorCode"]; ok {
			t.Errorf("%s: errorCode %v on a success", w.event, rec["errorCode"])
		}
	} else if msg, _ := rec["errorMessage"].(string); rec["errorCode"] != errorCode(w.err) || msg != awserr.Message(w.err) {
		t.Errorf("%s: errorCode %v errorMessage %q, want %s %q", w.event, rec["errorCode"], rec["errorMessage"], errorCode(w.err), awserr.Message(w.err))
	}
	params, _ := rec["requestParameters"].(map[string]any)
	for k, v := range w.params {
		if !reflect.DeepEqual(params[k], v) {
			t.Errorf("%s: requestParameters.%s = %#v, want %#v", w.event, k, params[k], v)
		}
	}
	for _, k := range w.absent {
		if _, ok := params[k]; ok {
			t.Errorf("%s: requestParameters has %s", w.event, k)
		}
	}
	resp, ok := rec["responseElements"]
	switch {
	case !ok:
		t.Errorf("%s: no responseElements member", w.event)
	case w.response == nil && resp != nil:
		t.Errorf("%s: responseElements %v, want null", w.event, resp)
	case w.response == "present":
		if _, isObj := resp.(map[string]any); !isObj {
			t.Errorf("%s: responseElements %v, want an object", w.event, resp)
		}
	case w.response != nil && !reflect.DeepEqual(resp, w.response):
		t.Errorf("%s: responseElements %v, want %v", w.event, resp, w.response)
	}
	noSecretMembers(t, w.event, rec)
	return rec
}

func checkIdentity(t testing.TB, event string, rec map[string]any, c kmsclient.Caller) {
	t.Helper()
	id, _ := rec["userIdentity"].(map[string]any)
	if id["type"] != c.Type || id["arn"] != c.ARN || id["accountId"] != c.AccountID || id["principalId"] != c.PrincipalID {
		t.Errorf("%s: userIdentity %v, want %s %s %s", event, id, c.Type, c.ARN, c.AccountID)
	}
	if c.UserName != "" && id["userName"] != c.UserName {
		t.Errorf("%s: userIdentity.userName %v, want %s", event, id["userName"], c.UserName)
	}
}

func checkResources(t testing.TB, event string, rec map[string]any, arns []string) {
	t.Helper()
	var want []any
	for _, arn := range arns {
		want = append(want, map[string]any{"accountId": "000000000000", "type": "AWS::KMS::Key", "ARN": arn})
	}
	got, _ := rec["resources"].([]any)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: resources %v, want %v", event, got, want)
	}
}

// noSecretMembers fails if any member anywhere in rec, outside encryption
// contexts, is one that carries plaintext, ciphertext or a grant token.
func noSecretMembers(t testing.TB, event string, v any) {
	t.Helper()
	switch v := v.(type) {
	case map[string]any:
		for k, val := range v {
			switch k {
			case "plaintext", "Plaintext", "ciphertextBlob", "CiphertextBlob", "grantToken", "GrantToken", "grantTokens", "GrantTokens":
				t.Errorf("%s: the record has a %s member", event, k)
			case "encryptionContext", "sourceEncryptionContext", "destinationEncryptionContext",
				"encryptionContextSubset", "encryptionContextEquals":
				continue // the caller's pairs, whatever their names
			}
			noSecretMembers(t, event, val)
		}
	case []any:
		for _, val := range v {
			noSecretMembers(t, event, val)
		}
	}
}

// TestAuditRecords makes calls of every kind, allowed and denied, and checks
// the one record each leaves, then that no secret any call handled is in the
// trail file.
func TestAuditRecords(t *testing.T) {
	h := newHarness(t, t.TempDir())
	tr := &trailReader{path: h.trailPath}
	root := kmsclient.RootCaller("000000000000")
	alice := kmsclient.UserCaller("000000000000", "alice", "AIDAALICE")
	rootCtx, aliceCtx := kmsclient.WithCaller(t.Context(), root), kmsclient.WithCaller(t.Context(), alice)
	var secrets [][]byte
	var tokens []string
	keep := func(b ...[]byte) { secrets = append(secrets, b...) }

	a := must(h.kms.CreateKey(rootCtx, &kmsclient.CreateKeyInput{Description: "audit a"}))(t).KeyMetadata
	rec := tr.expect(t, want{event: "CreateKey", caller: root, resources: []string{a.Arn}, params: map[string]any{"description": "audit a"}, response: "present"})
	if km, _ := rec["responseElements"].(map[string]any)["keyMetadata"].(map[string]any); km["keyId"] != a.KeyID {
		t.Errorf("CreateKey responseElements %v", rec["responseElements"])
	}
	b := must(h.kms.CreateKey(rootCtx, &kmsclient.CreateKeyInput{}))(t).KeyMetadata
	tr.expect(t, want{event: "CreateKey", caller: root, resources: []string{b.Arn}, response: "present"})

	must(h.kms.CreateAlias(rootCtx, &kmsclient.AliasInput{AliasName: "alias/audit", TargetKeyID: a.KeyID}))(t)
	tr.expect(t, want{event: "CreateAlias", caller: root, resources: []string{a.Arn}, params: map[string]any{"aliasName": "alias/audit", "targetKeyId": a.KeyID}})
	must(h.kms.DescribeKey(rootCtx, &kmsclient.KeyIDInput{KeyID: "alias/audit"}))(t)
	rec = tr.expect(t, want{event: "DescribeKey", caller: root, resources: []string{a.Arn}, params: map[string]any{"keyId": "alias/audit"}})
	if rec["readOnly"] != true {
		t.Errorf("DescribeKey readOnly %v", rec["readOnly"])
	}
	_, err := h.kms.DescribeKey(rootCtx, &kmsclient.KeyIDInput{KeyID: "alias/audit-missing"})
	tr.expect(t, want{event: "DescribeKey", caller: root, err: err, params: map[string]any{"keyId": "alias/audit-missing"}})

	// Crypto calls: the context is logged as given, never a blob or plaintext.
	encCtx := map[string]string{"Volume": "vol-1", "aws:ebs:id": "vol-1", "Plaintext": "not a secret"}
	logged := map[string]any{"Volume": "vol-1", "aws:ebs:id": "vol-1", "Plaintext": "not a secret"}
	plain := randomBytes(t, 64)
	enc := must(h.kms.Encrypt(rootCtx, &kmsclient.EncryptInput{KeyID: a.KeyID, Plaintext: plain, EncryptionContext: encCtx, GrantTokens: []string{"token-in-request"}}))(t)
	keep(plain, enc.CiphertextBlob)
	tokens = append(tokens, "token-in-request")
	tr.expect(t, want{event: "Encrypt", caller: root, resources: []string{a.Arn}, params: map[string]any{"keyId": a.KeyID, "encryptionContext": logged}})
	must(h.kms.Decrypt(rootCtx, &kmsclient.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: encCtx}))(t)
	tr.expect(t, want{event: "Decrypt", caller: root, resources: []string{a.Arn},
		params: map[string]any{"encryptionContext": logged, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"}, absent: []string{"keyId"}})
	_, err = h.kms.Decrypt(rootCtx, &kmsclient.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: encCtx, KeyID: b.KeyID})
	tr.expect(t, want{event: "Decrypt", caller: root, err: err, params: map[string]any{"keyId": b.KeyID}})
	tampered := bytes.Clone(enc.CiphertextBlob)
	tampered[len(tampered)-1] ^= 1
	_, err = h.kms.Decrypt(rootCtx, &kmsclient.DecryptInput{CiphertextBlob: tampered, EncryptionContext: encCtx})
	tr.expect(t, want{event: "Decrypt", caller: root, resources: []string{a.Arn}, err: err})
	keep(tampered)

	dk := must(h.kms.GenerateDataKey(rootCtx, &kmsclient.GenerateDataKeyInput{KeyID: "alias/audit", NumberOfBytes: 64, EncryptionContext: encCtx}))(t)
	keep(dk.Plaintext, dk.CiphertextBlob)
	tr.expect(t, want{event: "GenerateDataKey", caller: root, resources: []string{a.Arn}, params: map[string]any{"keyId": "alias/audit", "numberOfBytes": 64.0, "encryptionContext": logged}})
	wp := must(h.kms.GenerateDataKeyWithoutPlaintext(rootCtx, &kmsclient.GenerateDataKeyInput{KeyID: a.Arn, KeySpec: "AES_256"}))(t)
	keep(wp.CiphertextBlob)
	tr.expect(t, want{event: "GenerateDataKeyWithoutPlaintext", caller: root, resources: []string{a.Arn}, params: map[string]any{"keyId": a.Arn, "keySpec": "AES_256"}})
	wpPlain := must(h.kms.Decrypt(rootCtx, &kmsclient.DecryptInput{CiphertextBlob: wp.CiphertextBlob}))(t).Plaintext
	keep(wpPlain)
	tr.expect(t, want{event: "Decrypt", caller: root, resources: []string{a.Arn}})
	re := must(h.kms.ReEncrypt(rootCtx, &kmsclient.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: encCtx,
		DestinationKeyID: b.KeyID, DestinationEncryptionContext: map[string]string{"To": "b"}}))(t)
	keep(re.CiphertextBlob)
	tr.expect(t, want{event: "ReEncrypt", caller: root, resources: []string{a.Arn, b.Arn},
		params: map[string]any{"destinationKeyId": b.KeyID, "sourceEncryptionContext": logged, "destinationEncryptionContext": map[string]any{"To": "b"}}})
	rnd := must(h.kms.GenerateRandom(rootCtx, &kmsclient.GenerateRandomInput{NumberOfBytes: 32}))(t)
	keep(rnd.Plaintext)
	tr.expect(t, want{event: "GenerateRandom", caller: root, params: map[string]any{"numberOfBytes": 32.0}})
	_, err = h.kms.Encrypt(rootCtx, &kmsclient.EncryptInput{KeyID: a.KeyID, Plaintext: make([]byte, 4097)})
	tr.expect(t, want{event: "Encrypt", caller: root, err: err})

	// A denied call.
	pol := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"kms:*","Resource":"*"},` +
		`{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::000000000000:user/alice"},"Action":"kms:Decrypt","Resource":"*"}]}`
	must(h.kms.PutKeyPolicy(rootCtx, &kmsclient.PutKeyPolicyInput{KeyID: a.KeyID, Policy: pol}))(t)
	tr.expect(t, want{event: "PutKeyPolicy", caller: root, resources: []string{a.Arn}, params: map[string]any{"keyId": a.KeyID}})
	_, err = h.kms.Decrypt(aliceCtx, &kmsclient.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: encCtx})
	tr.expect(t, want{event: "Decrypt", caller: alice, resources: []string{a.Arn}, err: err})
	if errorCode(err) != "AccessDeniedException" {
		t.Errorf("alice's Decrypt failed with %v", err)
	}

	// Grants: the token is never logged.
	g := must(h.kms.CreateGrant(rootCtx, &kmsclient.CreateGrantInput{KeyID: b.KeyID, GranteePrincipal: alice.ARN, Operations: []string{"Decrypt"}, Name: "audit"}))(t)
	tokens = append(tokens, g.GrantToken)
	tr.expect(t, want{event: "CreateGrant", caller: root, resources: []string{b.Arn},
		params: map[string]any{"keyId": b.KeyID, "granteePrincipal": alice.ARN, "operations": []any{"Decrypt"}}, response: map[string]any{"grantId": g.GrantID}})
	must(h.kms.ListGrants(rootCtx, &kmsclient.ListGrantsInput{KeyID: b.KeyID}))(t)
	tr.expect(t, want{event: "ListGrants", caller: root, resources: []string{b.Arn}})
	must(h.kms.RetireGrant(rootCtx, &kmsclient.RetireGrantInput{GrantToken: g.GrantToken}))(t)
	tr.expect(t, want{event: "RetireGrant", caller: root, resources: []string{b.Arn}, absent: []string{"grantToken"}})
	_, err = h.kms.RevokeGrant(rootCtx, &kmsclient.RevokeGrantInput{KeyID: b.KeyID, GrantID: g.GrantID})
	tr.expect(t, want{event: "RevokeGrant", caller: root, resources: []string{b.Arn}, err: err, params: map[string]any{"grantId": g.GrantID}})

	// A call through EC2 names the service.
	ec2 := root
	ec2.ViaService = "ec2.local.amazonaws.com"
	ebs := must(h.kms.GenerateDataKeyWithoutPlaintext(kmsclient.WithCaller(t.Context(), ec2), &kmsclient.GenerateDataKeyInput{KeyID: "alias/aws/ebs", NumberOfBytes: 64}))(t)
	keep(ebs.CiphertextBlob)
	rec = tr.expect(t, want{event: "GenerateDataKeyWithoutPlaintext", caller: root, resources: []string{ebs.KeyID}, params: map[string]any{"keyId": "alias/aws/ebs", "numberOfBytes": 64.0}})
	if id := rec["userIdentity"].(map[string]any); id["invokedBy"] != "ec2.amazonaws.com" {
		t.Errorf("userIdentity.invokedBy %v", id["invokedBy"])
	}

	// Management calls, then the service events the clock makes due.
	must(h.kms.EnableKeyRotation(rootCtx, &kmsclient.EnableKeyRotationInput{KeyID: a.KeyID, RotationPeriodInDays: 90}))(t)
	tr.expect(t, want{event: "EnableKeyRotation", caller: root, resources: []string{a.Arn}, params: map[string]any{"rotationPeriodInDays": 90.0}})
	must(h.kms.ScheduleKeyDeletion(rootCtx, &kmsclient.ScheduleKeyDeletionInput{KeyID: b.KeyID, PendingWindowInDays: 7}))(t)
	tr.expect(t, want{event: "ScheduleKeyDeletion", caller: root, resources: []string{b.Arn}, params: map[string]any{"pendingWindowInDays": 7.0}, response: "present"})
	h.advance(t, 91*24*time.Hour)
	events := tr.next(t)
	if len(events) != 2 {
		t.Fatalf("the sweep appended %d records, want RotateKey and DeleteKey: %v", len(events), events)
	}
	seen := map[string]string{}
	for _, ev := range events {
		checkServiceEvent(t, ev)
		seen[ev["eventName"].(string)] = ev["resources"].([]any)[0].(map[string]any)["ARN"].(string)
	}
	if seen["RotateKey"] != a.Arn || seen["DeleteKey"] != b.Arn {
		t.Errorf("service events %v, want RotateKey of %s and DeleteKey of %s", seen, a.Arn, b.Arn)
	}
	h.advance(t, time.Hour)
	if extra := tr.next(t); len(extra) != 0 {
		t.Errorf("a second sweep appended %v", extra)
	}

	checkTrailHasNoSecrets(t, h.trailPath, secrets, tokens)
}

func checkServiceEvent(t testing.TB, ev map[string]any) {
	t.Helper()
	id, _ := ev["userIdentity"].(map[string]any)
	if ev["eventType"] != "AwsServiceEvent" || id["type"] != "AWSService" || id["invokedBy"] != "kms.amazonaws.com" {
		t.Errorf("service event %s: eventType %v userIdentity %v", ev["eventName"], ev["eventType"], id)
	}
}

func checkTrailHasNoSecrets(t testing.TB, path string, secrets [][]byte, tokens []string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range secrets {
		if containsAny(data, encodings(s)) {
			t.Errorf("secret %d (%d bytes) is in the trail", i, len(s))
		}
	}
	for _, tok := range tokens {
		if bytes.Contains(data, []byte(tok)) {
			t.Errorf("grant token %q is in the trail", tok)
		}
	}
}

// TestAuditDueOnAccess checks the service events of a rotation or deletion
// applied when a call touches a key after the clock passed its date, without
// a sweep: each is recorded once, before the call, and a call that then fails
// does not undo it.
func TestAuditDueOnAccess(t *testing.T) {
	root := kmsclient.RootCaller("000000000000")
	t.Run("rotation", func(t *testing.T) {
		h := newHarness(t, t.TempDir())
		tr := &trailReader{path: h.trailPath}
		ctx := kmsclient.WithCaller(t.Context(), root)
		k := must(h.kms.CreateKey(ctx, &kmsclient.CreateKeyInput{}))(t).KeyMetadata
		must(h.kms.EnableKeyRotation(ctx, &kmsclient.EnableKeyRotationInput{KeyID: k.KeyID, RotationPeriodInDays: 90}))(t)
		blob := must(h.kms.Encrypt(ctx, &kmsclient.EncryptInput{KeyID: k.KeyID, Plaintext: []byte("r"), EncryptionContext: map[string]string{"a": "b"}}))(t).CiphertextBlob
		tr.next(t)
		h.clock.Advance(91 * 24 * time.Hour) // no sweep

		_, err := h.kms.Decrypt(ctx, &kmsclient.DecryptInput{CiphertextBlob: blob, EncryptionContext: map[string]string{"a": "c"}})
		if !errors.Is(err, kmsclient.ErrInvalidCiphertext) {
			t.Fatalf("Decrypt with the wrong context: %v", err)
		}
		wantServiceEventThenCall(t, tr.next(t), "RotateKey", k.Arn, "Decrypt")
		must(h.kms.DescribeKey(ctx, &kmsclient.KeyIDInput{KeyID: k.KeyID}))(t)
		tr.expect(t, want{event: "DescribeKey", caller: root, resources: []string{k.Arn}, params: map[string]any{"keyId": k.KeyID}})
		if rot := must(h.kms.ListKeyRotations(ctx, &kmsclient.ListKeyRotationsInput{KeyID: k.KeyID}))(t).Rotations; len(rot) != 1 {
			t.Errorf("%d rotations, want 1", len(rot))
		}
		tr.next(t)
		h.advance(t, 0)
		if extra := tr.next(t); len(extra) != 0 {
			t.Errorf("a sweep after the rotation appended %v", extra)
		}
	})
	t.Run("deletion", func(t *testing.T) {
		h := newHarness(t, t.TempDir())
		tr := &trailReader{path: h.trailPath}
		ctx := kmsclient.WithCaller(t.Context(), root)
		k := must(h.kms.CreateKey(ctx, &kmsclient.CreateKeyInput{}))(t).KeyMetadata
		blob := must(h.kms.Encrypt(ctx, &kmsclient.EncryptInput{KeyID: k.KeyID, Plaintext: []byte("x")}))(t).CiphertextBlob
		must(h.kms.ScheduleKeyDeletion(ctx, &kmsclient.ScheduleKeyDeletionInput{KeyID: k.KeyID, PendingWindowInDays: 7}))(t)
		tr.next(t)
		h.clock.Advance(8 * 24 * time.Hour) // no sweep

		// Decrypting under the key finds it deleted.
		_, err := h.kms.Decrypt(ctx, &kmsclient.DecryptInput{CiphertextBlob: blob})
		if !errors.Is(err, kmsclient.ErrAccessDenied) {
			t.Errorf("Decrypt under a key past its deletion date: %v, want AccessDeniedException", err)
		}
		wantServiceEventThenCall(t, tr.next(t), "DeleteKey", k.Arn, "Decrypt")
		_, err = h.kms.Decrypt(ctx, &kmsclient.DecryptInput{CiphertextBlob: blob})
		tr.expect(t, want{event: "Decrypt", caller: root, err: err})
		_, err = h.kms.DescribeKey(ctx, &kmsclient.KeyIDInput{KeyID: k.KeyID})
		tr.expect(t, want{event: "DescribeKey", caller: root, err: err, params: map[string]any{"keyId": k.KeyID}})
		h.advance(t, 0)
		if extra := tr.next(t); len(extra) != 0 {
			t.Errorf("a sweep after the deletion appended %v", extra)
		}
	})
}

func wantServiceEventThenCall(t testing.TB, recs []map[string]any, event, arn, call string) {
	t.Helper()
	if len(recs) != 2 || recs[0]["eventName"] != event || recs[1]["eventName"] != call {
		t.Fatalf("records %v, want %s then %s", recs, event, call)
	}
	checkServiceEvent(t, recs[0])
	checkResources(t, event, recs[0], []string{arn})
}

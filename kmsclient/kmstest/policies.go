package kmstest

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/ebs-dev/ebs/kmsclient"
	"github.com/ebs-dev/ebs/kmsclient/policy"
)

// statement is one key policy statement, for building test policies.
type statement struct {
	Sid       string         `json:"Sid,omitempty"`
	Effect    string         `json:"Effect"`
	Principal map[string]any `json:"Principal"`
	Action    any            `json:"Action"`
	Resource  string         `json:"Resource"`
	Condition map[string]any `json:"Condition,omitempty"`
}

func policyOf(statements ...statement) string {
	b, err := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": statements})
	if err != nil {
		panic(err) // statements hold only strings, maps and lists
	}
	return string(b)
}

func allow(principal string, actions ...string) statement {
	return statement{Effect: "Allow", Principal: map[string]any{"AWS": principal}, Action: actions, Resource: "*"}
}

func deny(principal string, actions ...string) statement {
	return statement{Effect: "Deny", Principal: map[string]any{"AWS": principal}, Action: actions, Resource: "*"}
}

func defaultPolicy(e *Env) string {
	return policyOf(allow(e.rootArn(), "kms:*"))
}

// adminActions are the console's key administrator actions: everything
// but using the key for cryptography.
var adminActions = []string{
	"kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*",
	"kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource",
	"kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion", "kms:RetireGrant", "kms:RotateKeyOnDemand",
}

func testDefaultKeyPolicy(t *testing.T, e *Env) {
	k := e.createKey(t, nil)
	out := must(e.KMS.GetKeyPolicy(e.root(t), &kmsclient.GetKeyPolicyInput{KeyID: k.KeyID, PolicyName: "default"}))(t)
	if out.PolicyName != "default" {
		t.Errorf("PolicyName = %q", out.PolicyName)
	}
	if !allowsRootEverything(out.Policy, e.rootArn()) {
		t.Errorf("the default policy does not allow the root kms:*:\n%s", out.Policy)
	}
	if _, err := policy.Parse(out.Policy); err != nil {
		t.Errorf("the default policy does not parse: %v", err)
	}
	if same := must(e.KMS.GetKeyPolicy(e.root(t), &kmsclient.GetKeyPolicyInput{KeyID: k.Arn}))(t); same.Policy != out.Policy {
		t.Error("GetKeyPolicy without PolicyName differs")
	}
	_, err := e.KMS.GetKeyPolicy(e.root(t), &kmsclient.GetKeyPolicyInput{KeyID: k.KeyID, PolicyName: "other"})
	wantErr(t, err, kmsclient.ErrNotFound)
	names := must(e.KMS.ListKeyPolicies(e.root(t), &kmsclient.ListInput{KeyID: k.KeyID}))(t)
	if !slices.Equal(names.PolicyNames, []string{"default"}) {
		t.Errorf("ListKeyPolicies = %v", names.PolicyNames)
	}
}

// allowsRootEverything reports whether a statement of the policy allows the
// root "kms:*" on "*".
func allowsRootEverything(text, root string) bool {
	var doc struct {
		Statement json.RawMessage
	}
	if json.Unmarshal([]byte(text), &doc) != nil {
		return false
	}
	var list []map[string]json.RawMessage
	if json.Unmarshal(doc.Statement, &list) != nil {
		var one map[string]json.RawMessage
		if json.Unmarshal(doc.Statement, &one) != nil {
			return false
		}
		list = append(list, one)
	}
	for _, s := range list {
		var effect string
		var principal struct{ AWS json.RawMessage }
		json.Unmarshal(s["Effect"], &effect)
		json.Unmarshal(s["Principal"], &principal)
		if effect == "Allow" && slices.Contains(stringList(principal.AWS), root) && slices.Contains(stringList(s["Action"]), "kms:*") {
			return true
		}
	}
	return false
}

func stringList(raw json.RawMessage) []string {
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		return list
	}
	var one string
	json.Unmarshal(raw, &one)
	return []string{one}
}

func testPutKeyPolicy(t *testing.T, e *Env) {
	k := e.createKey(t, nil)
	text := policyOf(allow(e.rootArn(), "kms:*"), deny(e.userArn("mallory"), "kms:*"))
	e.setPolicy(t, k.KeyID, text)
	if got := must(e.KMS.GetKeyPolicy(e.root(t), &kmsclient.GetKeyPolicyInput{KeyID: k.KeyID}))(t).Policy; got != text {
		t.Errorf("GetKeyPolicy = %s, want what was put: %s", got, text)
	}
	for _, bad := range []string{
		`{not json`,
		`{"Version":"2012-10-17"}`,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Perhaps","Principal":"*","Action":"kms:*"}]}`,
		`[]`,
	} {
		_, err := e.KMS.PutKeyPolicy(e.root(t), &kmsclient.PutKeyPolicyInput{KeyID: k.KeyID, Policy: bad})
		wantErr(t, err, policy.ErrMalformed)
		_, err = e.KMS.CreateKey(e.root(t), &kmsclient.CreateKeyInput{Policy: bad})
		wantErr(t, err, policy.ErrMalformed)
	}
	_, err := e.KMS.PutKeyPolicy(e.root(t), &kmsclient.PutKeyPolicyInput{KeyID: k.KeyID, PolicyName: "other", Policy: text})
	wantErr(t, err, kmsclient.ErrNotFound)
	if got := must(e.KMS.GetKeyPolicy(e.root(t), &kmsclient.GetKeyPolicyInput{KeyID: k.KeyID}))(t).Policy; got != text {
		t.Error("a refused PutKeyPolicy changed the policy")
	}
	// mallory is denied everything.
	_, err = e.KMS.DescribeKey(e.user(t, "mallory"), &kmsclient.KeyIDInput{KeyID: k.KeyID})
	wantErr(t, err, kmsclient.ErrAccessDenied)
}

func testPolicyLockout(t *testing.T, e *Env) {
	k := e.createKey(t, nil)
	aliceOnly := policyOf(allow(e.userArn("alice"), "kms:*"))
	_, err := e.KMS.PutKeyPolicy(e.root(t), &kmsclient.PutKeyPolicyInput{KeyID: k.KeyID, Policy: aliceOnly})
	wantErr(t, err, policy.ErrMalformed)
	_, err = e.KMS.CreateKey(e.root(t), &kmsclient.CreateKeyInput{Policy: aliceOnly})
	wantErr(t, err, policy.ErrMalformed)
	e.describe(t, k.KeyID) // the refused policy did not lock the root out

	must(e.KMS.PutKeyPolicy(e.root(t), &kmsclient.PutKeyPolicyInput{KeyID: k.KeyID, Policy: aliceOnly, BypassPolicyLockoutSafetyCheck: true}))(t)
	_, err = e.KMS.DescribeKey(e.root(t), &kmsclient.KeyIDInput{KeyID: k.KeyID})
	wantErr(t, err, kmsclient.ErrAccessDenied)
	_, err = e.KMS.GetKeyPolicy(e.root(t), &kmsclient.GetKeyPolicyInput{KeyID: k.KeyID})
	wantErr(t, err, kmsclient.ErrAccessDenied)

	alice := e.user(t, "alice")
	must(e.KMS.DescribeKey(alice, &kmsclient.KeyIDInput{KeyID: k.KeyID}))(t)
	must(e.KMS.PutKeyPolicy(alice, &kmsclient.PutKeyPolicyInput{KeyID: k.KeyID, Policy: defaultPolicy(e)}))(t)
	e.describe(t, k.KeyID)

	bypassed := must(e.KMS.CreateKey(e.root(t), &kmsclient.CreateKeyInput{Policy: aliceOnly, BypassPolicyLockoutSafetyCheck: true}))(t).KeyMetadata
	must(e.KMS.DescribeKey(alice, &kmsclient.KeyIDInput{KeyID: bypassed.KeyID}))(t)
	_, err = e.KMS.DescribeKey(e.root(t), &kmsclient.KeyIDInput{KeyID: bypassed.KeyID})
	wantErr(t, err, kmsclient.ErrAccessDenied)
}

func testPolicyDeny(t *testing.T, e *Env) {
	k := e.createKey(t, nil)
	e.setPolicy(t, k.KeyID, policyOf(allow(e.rootArn(), "kms:*"), deny(e.userArn("alice"), "kms:Decrypt")))
	alice, bob := e.user(t, "alice"), e.user(t, "bob")
	plain := []byte("not for alice")
	blob := must(e.KMS.Encrypt(alice, &kmsclient.EncryptInput{KeyID: k.KeyID, Plaintext: plain}))(t).CiphertextBlob

	_, err := e.decrypt(t, alice, blob, nil)
	wantErr(t, err, kmsclient.ErrAccessDenied)
	e.wantPlain(t, e.root(t), blob, nil, plain)
	e.wantPlain(t, bob, blob, nil, plain)
	// The deny is for kms:Decrypt only.
	must(e.KMS.DescribeKey(alice, &kmsclient.KeyIDInput{KeyID: k.KeyID}))(t)
	must(e.KMS.GenerateDataKeyWithoutPlaintext(alice, &kmsclient.GenerateDataKeyInput{KeyID: k.KeyID, NumberOfBytes: 32}))(t)
	// A Deny wins over a grant.
	must(e.KMS.CreateGrant(e.root(t), &kmsclient.CreateGrantInput{KeyID: k.KeyID, GranteePrincipal: e.userArn("alice"), Operations: []string{"Decrypt"}}))(t)
	_, err = e.decrypt(t, alice, blob, nil)
	wantErr(t, err, kmsclient.ErrAccessDenied)
}

func testPolicyCondition(t *testing.T, e *Env) {
	k := e.createKey(t, nil)
	use := allow(e.rootArn(), "kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*")
	use.Condition = map[string]any{"StringEquals": map[string]any{"kms:EncryptionContext:purpose": "backup"}}
	e.setPolicy(t, k.KeyID, policyOf(allow(e.rootArn(), adminActions...), use))

	backup := map[string]string{"purpose": "backup", "volume": "vol-1"}
	plain := []byte("backup only")
	blob := e.encrypt(t, k.KeyID, plain, backup)
	e.wantPlain(t, e.root(t), blob, backup, plain)
	e.wantPlain(t, e.user(t, "alice"), blob, backup, plain)
	must(e.KMS.GenerateDataKey(e.root(t), &kmsclient.GenerateDataKeyInput{KeyID: k.KeyID, NumberOfBytes: 32, EncryptionContext: backup}))(t)

	for _, c := range []map[string]string{nil, {"purpose": "other"}, {"purpose": "Backup"}, {"volume": "vol-1"}} {
		_, err := e.KMS.Encrypt(e.root(t), &kmsclient.EncryptInput{KeyID: k.KeyID, Plaintext: plain, EncryptionContext: c})
		wantErr(t, err, kmsclient.ErrAccessDenied)
		_, err = e.KMS.GenerateDataKey(e.root(t), &kmsclient.GenerateDataKeyInput{KeyID: k.KeyID, NumberOfBytes: 32, EncryptionContext: c})
		wantErr(t, err, kmsclient.ErrAccessDenied)
	}
	_, err := e.decrypt(t, e.root(t), blob, map[string]string{"purpose": "other", "volume": "vol-1"})
	wantErr(t, err, kmsclient.ErrAccessDenied)
	e.describe(t, k.KeyID) // administration needs no context
}

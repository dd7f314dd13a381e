package kmstest

import (
	"strings"
	"testing"

	"github.com/ebs-dev/ebs/kmsclient"
	"github.com/ebs-dev/ebs/kmsclient/policy"
)

// policyOfSize is the default policy padded (in its Sid) to n bytes.
func policyOfSize(e *Env, n int) string {
	s := allow(e.rootArn(), "kms:*")
	s.Sid = "x"
	pad := n - len(policyOf(s))
	s.Sid = strings.Repeat("x", 1+pad)
	return policyOf(s)
}

// testPolicyLimits: AWS's 32 KB quota on a key policy (LimitExceeded), the
// API's 131072-character limit (ValidationException), the characters a
// key policy may hold and ForAllValues on a single-valued key
// (MalformedPolicyDocument).
func testPolicyLimits(t *testing.T, e *Env) {
	k := e.createKey(t, nil)
	put := func(text string) error {
		_, err := e.KMS.PutKeyPolicy(e.root(t), &kmsclient.PutKeyPolicyInput{KeyID: k.KeyID, Policy: text})
		return err
	}
	create := func(text string) error {
		_, err := e.KMS.CreateKey(e.root(t), &kmsclient.CreateKeyInput{Policy: text})
		return err
	}
	full := policyOfSize(e, 32768)
	if len(full) != 32768 {
		t.Fatalf("built a policy of %d bytes", len(full))
	}
	must(0, put(full))(t)
	must(0, create(full))(t)
	for _, f := range []func(string) error{put, create} {
		wantErr(t, f(policyOfSize(e, 32769)), kmsclient.ErrLimitExceeded)
		wantErr(t, f(policyOfSize(e, 131073)), kmsclient.ErrValidation)
		wantErr(t, f(strings.Replace(defaultPolicy(e), `"Allow"`, `"Allow","Sid":"€"`, 1)), policy.ErrMalformed)
		s := allow(e.rootArn(), "kms:*")
		s.Condition = map[string]any{"ForAllValues:StringEquals": map[string]any{"kms:EncryptionContext:app": "x"}}
		wantErr(t, f(policyOf(s)), policy.ErrMalformed)
	}
	if got := must(e.KMS.GetKeyPolicy(e.root(t), &kmsclient.GetKeyPolicyInput{KeyID: k.KeyID}))(t).Policy; got != full {
		t.Error("a refused PutKeyPolicy changed the policy")
	}
}

// testContextLimits: the 8192-byte cap on an encryption context holds for
// every operation that takes one, and the grant constraint limits (8 pairs,
// values of 384 characters).
func testContextLimits(t *testing.T, e *Env) {
	k := e.createKey(t, nil)
	big := map[string]string{"k": strings.Repeat("v", 8192)}
	fits := map[string]string{"k": strings.Repeat("v", 8191)}
	blob := e.encrypt(t, k.KeyID, []byte("p"), fits)
	e.wantPlain(t, e.root(t), blob, fits, []byte("p"))
	_, err := e.decrypt(t, e.root(t), blob, big)
	wantErr(t, err, kmsclient.ErrValidation)
	_, err = e.KMS.ReEncrypt(e.root(t), &kmsclient.ReEncryptInput{CiphertextBlob: blob, SourceEncryptionContext: big, DestinationKeyID: k.KeyID})
	wantErr(t, err, kmsclient.ErrValidation)
	_, err = e.KMS.Encrypt(e.root(t), &kmsclient.EncryptInput{KeyID: k.KeyID, Plaintext: []byte("p"), EncryptionContext: big})
	wantErr(t, err, kmsclient.ErrValidation)

	nine := map[string]string{}
	for _, c := range "abcdefghi" {
		nine[string(c)] = "v"
	}
	for _, cs := range []*kmsclient.GrantConstraints{
		subsetOf(nine), equalsOf(nine),
		subsetOf(map[string]string{"k": strings.Repeat("v", 385)}),
		{EncryptionContextSubset: fits, EncryptionContextEquals: fits},
	} {
		_, err := e.createGrant(e.root(t), k.KeyID, e.userArn("carol"), []string{"Decrypt"}, cs)
		wantErr(t, err, kmsclient.ErrValidation)
	}
	delete(nine, "i")
	must(e.createGrant(e.root(t), k.KeyID, e.userArn("carol"), []string{"Decrypt"}, equalsOf(nine)))(t)
	must(e.createGrant(e.root(t), k.KeyID, e.userArn("carol"), []string{"Decrypt"}, subsetOf(map[string]string{"k": strings.Repeat("é", 384)})))(t)
	_, err = e.createGrant(e.root(t), k.KeyID, "arn:aws:iam::"+e.Account+":user/"+strings.Repeat("u", 240), []string{"Decrypt"}, nil)
	wantErr(t, err, kmsclient.ErrValidation)
}

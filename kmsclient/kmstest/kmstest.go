package kmstest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ebs-dev/ebs/internal/awserr"
	"github.com/ebs-dev/ebs/kmsclient"
)

// Env is what the suite needs from an implementation under test.
type Env struct {
	KMS     kmsclient.Service
	Account string
	Region  string
	// Advance moves the implementation's clock forward and applies what
	// became due (rotations, deletions). Subtests that need it are skipped
	// when it is nil.
	Advance func(t testing.TB, d time.Duration)
	// Reopen closes and reopens the implementation on the same storage and
	// returns the new Service (nil if not supported).
	Reopen func(t testing.TB) kmsclient.Service
}

// Run runs every subtest of the suite, each on a fresh Env from newEnv.
func Run(t *testing.T, newEnv func(t *testing.T) *Env) {
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			if e == nil || e.KMS == nil {
				t.Fatal("newEnv returned no KMS")
			}
			tc.fn(t, e)
		})
	}
}

var tests = []struct {
	name string
	fn   func(t *testing.T, e *Env)
}{
	{"CreateDescribe", testCreateDescribe},
	{"KeyNotFound", testKeyNotFound},
	{"ListKeysPaging", testListKeysPaging},
	{"Tags", testTags},
	{"Aliases", testAliases},
	{"AliasNameRules", testAliasNameRules},
	{"EncryptDecrypt", testEncryptDecrypt},
	{"EncryptionContext", testEncryptionContext},
	{"TamperedCiphertext", testTamperedCiphertext},
	{"PlaintextSize", testPlaintextSize},
	{"GenerateDataKey", testGenerateDataKey},
	{"GenerateDataKeyValidation", testGenerateDataKeyValidation},
	{"GenerateDataKeyWithoutPlaintext", testGenerateDataKeyWithoutPlaintext},
	{"GenerateRandom", testGenerateRandom},
	{"ReEncrypt", testReEncrypt},
	{"DisabledKey", testDisabledKey},
	{"ScheduleKeyDeletion", testScheduleKeyDeletion},
	{"CancelKeyDeletion", testCancelKeyDeletion},
	{"KeyDeletedAfterWaitingPeriod", testKeyDeletedAfterWaitingPeriod},
	{"RotationSettings", testRotationSettings},
	{"RotateKeyOnDemand", testRotateKeyOnDemand},
	{"OnDemandRotationLimit", testOnDemandRotationLimit},
	{"AutomaticRotation", testAutomaticRotation},
	{"DisabledKeyNotRotated", testDisabledKeyNotRotated},
	{"AWSManagedKey", testAWSManagedKey},
	{"AWSManagedKeyViaService", testAWSManagedKeyViaService},
	{"DefaultKeyPolicy", testDefaultKeyPolicy},
	{"PutKeyPolicy", testPutKeyPolicy},
	{"PolicyLockout", testPolicyLockout},
	{"PolicyDeny", testPolicyDeny},
	{"PolicyCondition", testPolicyCondition},
	{"PolicyLimits", testPolicyLimits},
	{"ContextLimits", testContextLimits},
	{"Grants", testGrants},
	{"GrantConstraints", testGrantConstraints},
	{"GrantEscalation", testGrantEscalation},
	{"GrantConstraintScope", testGrantConstraintScope},
	{"GrantPrincipals", testGrantPrincipals},
	{"GrantsDoNotAllowListOrRevoke", testGrantsDoNotAllowListOrRevoke},
	{"RetireGrantRules", testRetireGrantRules},
	{"Persistence", testPersistence},
	{"Concurrency", testConcurrency},
}

// Principals the suite acts as.

func (e *Env) root(t testing.TB) context.Context {
	return kmsclient.WithCaller(t.Context(), kmsclient.RootCaller(e.Account))
}

func (e *Env) user(t testing.TB, name string) context.Context {
	return kmsclient.WithCaller(t.Context(), e.userCaller(name))
}

func (e *Env) userCaller(name string) kmsclient.Caller {
	return kmsclient.UserCaller(e.Account, name, "AIDA"+strings.ToUpper(name))
}

func (e *Env) userArn(name string) string { return e.userCaller(name).ARN }

// outsiderAccount is an account other than the one under test.
const outsiderAccount = "444455556666"

// outsider is an IAM user of another account.
func (e *Env) outsider(t testing.TB, name string) context.Context {
	return kmsclient.WithCaller(t.Context(), kmsclient.UserCaller(outsiderAccount, name, "AIDAOUT"+strings.ToUpper(name)))
}

func (e *Env) rootArn() string { return kmsclient.RootCaller(e.Account).ARN }

// viaService is the root calling through an AWS service, e.g. "ec2".
func (e *Env) viaService(t testing.TB, service string) context.Context {
	c := kmsclient.RootCaller(e.Account)
	c.ViaService = fmt.Sprintf("%s.%s.amazonaws.com", service, e.Region)
	return kmsclient.WithCaller(t.Context(), c)
}

func (e *Env) keyArn(id string) string {
	return fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", e.Region, e.Account, id)
}

func (e *Env) aliasArn(name string) string {
	return fmt.Sprintf("arn:aws:kms:%s:%s:%s", e.Region, e.Account, name)
}

func (e *Env) needAdvance(t *testing.T) {
	t.Helper()
	if e.Advance == nil {
		t.Skip("the implementation cannot move its clock")
	}
}

// Checks.

// wantErr fails unless err is of one of the kinds.
func wantErr(t testing.TB, err error, kinds ...error) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", kinds)
	}
	for _, k := range kinds {
		if errors.Is(err, k) {
			return
		}
	}
	t.Fatalf("got error %q (%v), want kind %v", awserr.Message(err), err, kinds)
}

// must returns v, or fails the test given to the returned function on err:
// must(e.KMS.DescribeKey(ctx, in))(t).
func must[T any](v T, err error) func(t testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return v
	}
}

func near(t testing.TB, what string, got, want time.Time, tolerance time.Duration) {
	t.Helper()
	if d := got.Sub(want); d < -tolerance || d > tolerance {
		t.Errorf("%s = %v, want %v (within %v)", what, got, want, tolerance)
	}
}

// Shortcuts for the calls most subtests make as the root.

func (e *Env) createKey(t testing.TB, in *kmsclient.CreateKeyInput) *kmsclient.KeyMetadata {
	t.Helper()
	if in == nil {
		in = &kmsclient.CreateKeyInput{}
	}
	out := must(e.KMS.CreateKey(e.root(t), in))(t)
	if out == nil || out.KeyMetadata == nil {
		t.Fatal("CreateKey returned no KeyMetadata")
	}
	return out.KeyMetadata
}

func (e *Env) describe(t testing.TB, keyID string) *kmsclient.KeyMetadata {
	t.Helper()
	return must(e.KMS.DescribeKey(e.root(t), &kmsclient.KeyIDInput{KeyID: keyID}))(t).KeyMetadata
}

func (e *Env) createAlias(t testing.TB, name, target string) {
	t.Helper()
	must(e.KMS.CreateAlias(e.root(t), &kmsclient.AliasInput{AliasName: name, TargetKeyID: target}))(t)
}

func (e *Env) encrypt(t testing.TB, keyID string, plain []byte, encCtx map[string]string) []byte {
	t.Helper()
	out := must(e.KMS.Encrypt(e.root(t), &kmsclient.EncryptInput{KeyID: keyID, Plaintext: plain, EncryptionContext: encCtx}))(t)
	return out.CiphertextBlob
}

func (e *Env) dataKey(t testing.TB, keyID string, encCtx map[string]string) *kmsclient.GenerateDataKeyOutput {
	t.Helper()
	return must(e.KMS.GenerateDataKey(e.root(t), &kmsclient.GenerateDataKeyInput{KeyID: keyID, NumberOfBytes: 64, EncryptionContext: encCtx}))(t)
}

func (e *Env) decrypt(t testing.TB, ctx context.Context, blob []byte, encCtx map[string]string) (*kmsclient.DecryptOutput, error) {
	return e.KMS.Decrypt(ctx, &kmsclient.DecryptInput{CiphertextBlob: blob, EncryptionContext: encCtx})
}

// wantPlain decrypts blob as ctx's caller and checks the plaintext.
func (e *Env) wantPlain(t testing.TB, ctx context.Context, blob []byte, encCtx map[string]string, want []byte) *kmsclient.DecryptOutput {
	t.Helper()
	out := must(e.decrypt(t, ctx, blob, encCtx))(t)
	if string(out.Plaintext) != string(want) {
		t.Fatalf("Decrypt returned %d bytes %x, want %d bytes %x", len(out.Plaintext), out.Plaintext, len(want), want)
	}
	return out
}

func (e *Env) setPolicy(t testing.TB, keyID, policy string) {
	t.Helper()
	must(e.KMS.PutKeyPolicy(e.root(t), &kmsclient.PutKeyPolicyInput{KeyID: keyID, PolicyName: "default", Policy: policy}))(t)
}

func (e *Env) rotations(t testing.TB, keyID, include string) []kmsclient.RotationsListEntry {
	t.Helper()
	var all []kmsclient.RotationsListEntry
	marker := ""
	for {
		out := must(e.KMS.ListKeyRotations(e.root(t), &kmsclient.ListKeyRotationsInput{KeyID: keyID, IncludeKeyMaterial: include, Marker: marker}))(t)
		all = append(all, out.Rotations...)
		if !out.Truncated {
			return all
		}
		marker = out.NextMarker
	}
}

func (e *Env) aliases(t testing.TB, keyID string) map[string]kmsclient.AliasListEntry {
	t.Helper()
	all := map[string]kmsclient.AliasListEntry{}
	marker := ""
	for {
		out := must(e.KMS.ListAliases(e.root(t), &kmsclient.ListInput{KeyID: keyID, Marker: marker}))(t)
		for _, a := range out.Aliases {
			all[a.AliasName] = a
		}
		if !out.Truncated {
			return all
		}
		marker = out.NextMarker
	}
}

func (e *Env) keyIDs(t testing.TB) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	marker := ""
	for {
		out := must(e.KMS.ListKeys(e.root(t), &kmsclient.ListInput{Marker: marker}))(t)
		for _, k := range out.Keys {
			ids[k.KeyID] = true
		}
		if !out.Truncated {
			return ids
		}
		marker = out.NextMarker
	}
}

func (e *Env) grants(t testing.TB, keyID string) []kmsclient.GrantListEntry {
	t.Helper()
	return must(e.KMS.ListGrants(e.root(t), &kmsclient.ListGrantsInput{KeyID: keyID}))(t).Grants
}

// cryptoCalls makes every cryptographic call on keyID (plus Decrypt and
// ReEncrypt of blob, a ciphertext under keyID) and returns each call's error.
func (e *Env) cryptoCalls(t testing.TB, keyID string, blob []byte, other string) map[string]error {
	ctx := e.root(t)
	errs := map[string]error{}
	_, errs["Encrypt"] = e.KMS.Encrypt(ctx, &kmsclient.EncryptInput{KeyID: keyID, Plaintext: []byte("x")})
	_, errs["Decrypt"] = e.KMS.Decrypt(ctx, &kmsclient.DecryptInput{CiphertextBlob: blob})
	_, errs["GenerateDataKey"] = e.KMS.GenerateDataKey(ctx, &kmsclient.GenerateDataKeyInput{KeyID: keyID, KeySpec: "AES_256"})
	_, errs["GenerateDataKeyWithoutPlaintext"] = e.KMS.GenerateDataKeyWithoutPlaintext(ctx, &kmsclient.GenerateDataKeyInput{KeyID: keyID, KeySpec: "AES_256"})
	_, errs["ReEncrypt to"] = e.KMS.ReEncrypt(ctx, &kmsclient.ReEncryptInput{CiphertextBlob: e.encrypt(t, other, []byte("y"), nil), DestinationKeyID: keyID})
	return errs
}

func wantAllErr(t testing.TB, errs map[string]error, kinds ...error) {
	t.Helper()
	for op, err := range errs {
		if err == nil {
			t.Errorf("%s: got no error, want %v", op, kinds)
			continue
		}
		ok := false
		for _, k := range kinds {
			ok = ok || errors.Is(err, k)
		}
		if !ok {
			t.Errorf("%s: got %v, want %v", op, err, kinds)
		}
	}
}

package kmstest

import (
	"context"
	"strings"
	"testing"

	"github.com/ebs-dev/ebs/kmsclient"
)

const ebsAlias = "alias/aws/ebs"

func testAWSManagedKey(t *testing.T, e *Env) {
	m := e.describe(t, ebsAlias)
	if m.KeyManager != "AWS" || m.KeyState != "Enabled" || !m.Enabled || m.Arn != e.keyArn(m.KeyID) {
		t.Fatalf("aws/ebs: %+v", m)
	}
	if again := e.describe(t, e.aliasArn(ebsAlias)); again.KeyID != m.KeyID {
		t.Fatalf("aws/ebs was created twice: %s then %s", m.KeyID, again.KeyID)
	}
	if a := e.aliases(t, m.KeyID)[ebsAlias]; a.TargetKeyID != m.KeyID {
		t.Errorf("ListAliases: alias/aws/ebs targets %q, want %q", a.TargetKeyID, m.KeyID)
	}
	if !e.keyIDs(t)[m.KeyID] {
		t.Error("ListKeys does not list the AWS managed key")
	}
	st := e.rotationStatus(t, m.KeyID)
	if !st.KeyRotationEnabled || st.RotationPeriodInDays != 365 || st.NextRotationDate == nil {
		t.Errorf("aws/ebs rotation status %+v, want enabled every 365 days", st)
	}
	pol := must(e.KMS.GetKeyPolicy(e.root(t), &kmsclient.GetKeyPolicyInput{KeyID: m.KeyID, PolicyName: "default"}))(t).Policy
	if !strings.Contains(pol, "kms:ViaService") {
		t.Errorf("the aws/ebs policy does not use kms:ViaService:\n%s", pol)
	}

	// Its properties are AWS's: the policy denies first, or the operation is
	// unsupported for an AWS managed key.
	refusals := map[string]func(ctx context.Context) error{
		"DisableKey": func(ctx context.Context) error {
			_, err := e.KMS.DisableKey(ctx, &kmsclient.KeyIDInput{KeyID: m.KeyID})
			return err
		},
		"ScheduleKeyDeletion": func(ctx context.Context) error {
			_, err := e.KMS.ScheduleKeyDeletion(ctx, &kmsclient.ScheduleKeyDeletionInput{KeyID: m.KeyID, PendingWindowInDays: 7})
			return err
		},
		"PutKeyPolicy": func(ctx context.Context) error {
			_, err := e.KMS.PutKeyPolicy(ctx, &kmsclient.PutKeyPolicyInput{KeyID: m.KeyID, Policy: defaultPolicy(e), BypassPolicyLockoutSafetyCheck: true})
			return err
		},
		"EnableKeyRotation": func(ctx context.Context) error {
			_, err := e.KMS.EnableKeyRotation(ctx, &kmsclient.EnableKeyRotationInput{KeyID: m.KeyID, RotationPeriodInDays: 90})
			return err
		},
		"DisableKeyRotation": func(ctx context.Context) error {
			_, err := e.KMS.DisableKeyRotation(ctx, &kmsclient.KeyIDInput{KeyID: m.KeyID})
			return err
		},
		"RotateKeyOnDemand": func(ctx context.Context) error {
			_, err := e.KMS.RotateKeyOnDemand(ctx, &kmsclient.KeyIDInput{KeyID: m.KeyID})
			return err
		},
		"CreateAlias": func(ctx context.Context) error {
			_, err := e.KMS.CreateAlias(ctx, &kmsclient.AliasInput{AliasName: "alias/suite-ebs", TargetKeyID: m.KeyID})
			return err
		},
	}
	for name, call := range refusals {
		for _, ctx := range []context.Context{e.root(t), e.viaService(t, "ec2")} {
			if err := call(ctx); err == nil {
				t.Errorf("%s on aws/ebs succeeded", name)
			} else {
				wantErr(t, err, kmsclient.ErrAccessDenied, kmsclient.ErrUnsupportedOperation)
			}
		}
	}
	if after := e.describe(t, ebsAlias); after.KeyState != "Enabled" {
		t.Errorf("aws/ebs is %s after the refused calls", after.KeyState)
	}
	if st := e.rotationStatus(t, m.KeyID); !st.KeyRotationEnabled || st.RotationPeriodInDays != 365 {
		t.Errorf("aws/ebs rotation changed: %+v", st)
	}
	if after := must(e.KMS.GetKeyPolicy(e.root(t), &kmsclient.GetKeyPolicyInput{KeyID: m.KeyID}))(t).Policy; after != pol {
		t.Error("the aws/ebs policy changed")
	}
}

func testAWSManagedKeyViaService(t *testing.T, e *Env) {
	// Direct use by the root is denied: the policy wants kms:ViaService.
	_, err := e.KMS.Encrypt(e.root(t), &kmsclient.EncryptInput{KeyID: ebsAlias, Plaintext: []byte("x")})
	wantErr(t, err, kmsclient.ErrAccessDenied)
	_, err = e.KMS.GenerateDataKeyWithoutPlaintext(e.root(t), &kmsclient.GenerateDataKeyInput{KeyID: ebsAlias, NumberOfBytes: 64})
	wantErr(t, err, kmsclient.ErrAccessDenied)

	ec2 := e.viaService(t, "ec2")
	encCtx := map[string]string{"aws:ebs:id": "vol-1"}
	gen := must(e.KMS.GenerateDataKeyWithoutPlaintext(ec2, &kmsclient.GenerateDataKeyInput{KeyID: ebsAlias, NumberOfBytes: 64, EncryptionContext: encCtx}))(t)
	m := e.describe(t, ebsAlias)
	if gen.KeyID != m.Arn {
		t.Errorf("GenerateDataKeyWithoutPlaintext used %s, want aws/ebs %s", gen.KeyID, m.Arn)
	}
	dec := must(e.decrypt(t, ec2, gen.CiphertextBlob, encCtx))(t)
	if len(dec.Plaintext) != 64 {
		t.Errorf("the data key is %d bytes", len(dec.Plaintext))
	}
	plain := []byte("through ec2")
	blob := must(e.KMS.Encrypt(ec2, &kmsclient.EncryptInput{KeyID: ebsAlias, Plaintext: plain}))(t).CiphertextBlob
	e.wantPlain(t, ec2, blob, nil, plain)

	alice := e.userCaller("alice")
	alice.ViaService = "ec2." + e.Region + ".amazonaws.com"
	e.wantPlain(t, kmsclient.WithCaller(t.Context(), alice), blob, nil, plain)

	// The root decrypting directly, another service, another region and
	// another account are all denied.
	_, err = e.decrypt(t, e.root(t), blob, nil)
	wantErr(t, err, kmsclient.ErrAccessDenied)
	_, err = e.decrypt(t, e.viaService(t, "s3"), blob, nil)
	wantErr(t, err, kmsclient.ErrAccessDenied)
	elsewhere := kmsclient.RootCaller(e.Account)
	elsewhere.ViaService = "ec2.elsewhere-1.amazonaws.com"
	_, err = e.decrypt(t, kmsclient.WithCaller(t.Context(), elsewhere), blob, nil)
	wantErr(t, err, kmsclient.ErrAccessDenied)
	stranger := kmsclient.UserCaller("999999999999", "mallory", "AIDAMALLORY")
	stranger.ViaService = alice.ViaService
	_, err = e.decrypt(t, kmsclient.WithCaller(t.Context(), stranger), blob, nil)
	wantErr(t, err, kmsclient.ErrAccessDenied)
}

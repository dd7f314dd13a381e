package kmstest

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/ebs-dev/ebs/kmsclient"
)

func testPersistence(t *testing.T, e *Env) {
	if e.Reopen == nil {
		t.Skip("the implementation cannot reopen its storage")
	}
	a := e.createKey(t, &kmsclient.CreateKeyInput{Description: "kept", Tags: []kmsclient.Tag{{TagKey: "team", TagValue: "storage"}}})
	e.createAlias(t, "alias/suite-kept", a.KeyID)
	pol := policyOf(allow(e.rootArn(), "kms:*"), deny(e.userArn("alice"), "kms:Decrypt"))
	e.setPolicy(t, a.KeyID, pol)
	must(e.KMS.EnableKeyRotation(e.root(t), &kmsclient.EnableKeyRotationInput{KeyID: a.KeyID, RotationPeriodInDays: 180}))(t)
	before := e.seal(t, a.KeyID, 0)
	must(e.KMS.RotateKeyOnDemand(e.root(t), &kmsclient.KeyIDInput{KeyID: a.KeyID}))(t)
	after := e.seal(t, a.KeyID, 1)
	b := e.grantKey(t)
	grantCtx := map[string]string{"app": "x"}
	granted := e.encrypt(t, b.KeyID, []byte("for carol"), grantCtx)
	g := must(e.KMS.CreateGrant(e.root(t), &kmsclient.CreateGrantInput{
		KeyID: b.KeyID, GranteePrincipal: e.userArn("carol"), RetiringPrincipal: e.userArn("dave"), Operations: []string{"Decrypt"},
		Constraints: &kmsclient.GrantConstraints{EncryptionContextSubset: grantCtx},
	}))(t)
	disabled, pending := e.createKey(t, nil), e.createKey(t, nil)
	must(e.KMS.DisableKey(e.root(t), &kmsclient.KeyIDInput{KeyID: disabled.KeyID}))(t)
	sched := must(e.KMS.ScheduleKeyDeletion(e.root(t), &kmsclient.ScheduleKeyDeletionInput{KeyID: pending.KeyID, PendingWindowInDays: 10}))(t)
	ebs := e.describe(t, ebsAlias)
	status := e.rotationStatus(t, a.KeyID)
	rotations := e.rotations(t, a.KeyID, "ALL_KEY_MATERIAL")

	e.KMS = e.Reopen(t)
	if e.KMS == nil {
		t.Fatal("Reopen returned no KMS")
	}

	if m := e.describe(t, "alias/suite-kept"); m.KeyID != a.KeyID || m.Description != "kept" || m.KeyState != "Enabled" {
		t.Errorf("after reopen alias/suite-kept: %+v", m)
	}
	if m := e.describe(t, disabled.KeyID); m.KeyState != "Disabled" {
		t.Errorf("after reopen the disabled key is %s", m.KeyState)
	}
	if m := e.describe(t, pending.KeyID); m.KeyState != "PendingDeletion" || m.DeletionDate == nil || !m.DeletionDate.Equal(sched.DeletionDate.Time) {
		t.Errorf("after reopen the key pending deletion: %+v", m)
	}
	if m := e.describe(t, ebsAlias); m.KeyID != ebs.KeyID {
		t.Errorf("after reopen aws/ebs is %s, was %s", m.KeyID, ebs.KeyID)
	}
	if got := must(e.KMS.GetKeyPolicy(e.root(t), &kmsclient.GetKeyPolicyInput{KeyID: a.KeyID}))(t).Policy; got != pol {
		t.Errorf("after reopen the policy is %s", got)
	}
	if st := e.rotationStatus(t, a.KeyID); !st.KeyRotationEnabled || st.RotationPeriodInDays != 180 || !st.NextRotationDate.Equal(status.NextRotationDate.Time) {
		t.Errorf("after reopen rotation status %+v, was %+v", st, status)
	}
	if got := e.rotations(t, a.KeyID, "ALL_KEY_MATERIAL"); !slices.EqualFunc(got, rotations, sameRotation) {
		t.Errorf("after reopen rotations %+v, were %+v", got, rotations)
	}
	tags := must(e.KMS.ListResourceTags(e.root(t), &kmsclient.ListInput{KeyID: a.KeyID}))(t).Tags
	if len(tags) != 1 || tags[0] != (kmsclient.Tag{TagKey: "team", TagValue: "storage"}) {
		t.Errorf("after reopen tags %v", tags)
	}

	e.wantOpen(t, before)
	e.wantOpen(t, after)
	if s := e.seal(t, a.KeyID, 2); s.material != after.material {
		t.Errorf("after reopen new data keys use material %s, want the current %s", s.material, after.material)
	}
	_, err := e.decrypt(t, e.user(t, "alice"), before.blob, before.ctx)
	wantErr(t, err, kmsclient.ErrAccessDenied)
	e.wantPlain(t, e.user(t, "carol"), granted, grantCtx, []byte("for carol"))
	if gl := e.grants(t, b.KeyID); len(gl) != 1 || gl[0].GrantID != g.GrantID {
		t.Errorf("after reopen grants %+v", gl)
	}
	must(e.KMS.RetireGrant(e.user(t, "dave"), &kmsclient.RetireGrantInput{GrantToken: g.GrantToken}))(t)
	_, err = e.decrypt(t, e.user(t, "carol"), granted, grantCtx)
	wantErr(t, err, kmsclient.ErrAccessDenied)
}

func sameRotation(a, b kmsclient.RotationsListEntry) bool {
	return a.KeyMaterialID == b.KeyMaterialID && a.KeyMaterialState == b.KeyMaterialState &&
		a.RotationType == b.RotationType && a.RotationDate.Equal(b.RotationDate.Time)
}

func testConcurrency(t *testing.T, e *Env) {
	keys := []*kmsclient.KeyMetadata{e.createKey(t, nil), e.createKey(t, nil)}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 10 {
				k := keys[(g+i)%len(keys)]
				encCtx := map[string]string{"goroutine": fmt.Sprint(g), "i": fmt.Sprint(i)}
				gen, err := e.KMS.GenerateDataKey(e.root(t), &kmsclient.GenerateDataKeyInput{KeyID: k.KeyID, NumberOfBytes: 64, EncryptionContext: encCtx})
				if err != nil {
					t.Errorf("goroutine %d: GenerateDataKey: %v", g, err)
					return
				}
				dec, err := e.decrypt(t, e.root(t), gen.CiphertextBlob, encCtx)
				if err != nil {
					t.Errorf("goroutine %d: Decrypt: %v", g, err)
					return
				}
				if string(dec.Plaintext) != string(gen.Plaintext) || dec.KeyID != k.Arn {
					t.Errorf("goroutine %d: Decrypt returned another data key or key", g)
					return
				}
				if g == 0 && i%5 == 0 {
					if _, err := e.KMS.RotateKeyOnDemand(e.root(t), &kmsclient.KeyIDInput{KeyID: k.KeyID}); err != nil {
						t.Errorf("RotateKeyOnDemand: %v", err)
					}
				}
			}
		})
	}
	wg.Wait()
}

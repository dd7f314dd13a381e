package kmstest

import (
	"fmt"
	"testing"
	"time"

	"github.com/ebs-dev/ebs/kmsclient"
)

func (e *Env) rotationStatus(t testing.TB, keyID string) *kmsclient.GetKeyRotationStatusOutput {
	t.Helper()
	return must(e.KMS.GetKeyRotationStatus(e.root(t), &kmsclient.KeyIDInput{KeyID: keyID}))(t)
}

func testRotationSettings(t *testing.T, e *Env) {
	k, other := e.createKey(t, nil), e.createKey(t, nil)
	if st := e.rotationStatus(t, k.KeyID); st.KeyRotationEnabled || st.KeyID != k.Arn {
		t.Errorf("new key: %+v, want rotation disabled and KeyId %s", st, k.Arn)
	}
	for _, days := range []int{89, 2561, -1} {
		_, err := e.KMS.EnableKeyRotation(e.root(t), &kmsclient.EnableKeyRotationInput{KeyID: k.KeyID, RotationPeriodInDays: days})
		wantErr(t, err, kmsclient.ErrValidation)
	}
	for _, days := range []int{90, 2560, 0} {
		must(e.KMS.EnableKeyRotation(e.root(t), &kmsclient.EnableKeyRotationInput{KeyID: k.Arn, RotationPeriodInDays: days}))(t)
		want := days
		if days == 0 {
			want = 365
		}
		st := e.rotationStatus(t, k.KeyID)
		if !st.KeyRotationEnabled || st.RotationPeriodInDays != want || st.NextRotationDate == nil {
			t.Fatalf("after EnableKeyRotation(%d): %+v", days, st)
		}
		near(t, "NextRotationDate", st.NextRotationDate.Time, k.CreationDate.AddDate(0, 0, want), 10*time.Minute)
	}
	must(e.KMS.DisableKeyRotation(e.root(t), &kmsclient.KeyIDInput{KeyID: k.KeyID}))(t)
	if st := e.rotationStatus(t, k.KeyID); st.KeyRotationEnabled {
		t.Errorf("after DisableKeyRotation: %+v", st)
	}

	must(e.KMS.DisableKey(e.root(t), &kmsclient.KeyIDInput{KeyID: other.KeyID}))(t)
	_, err := e.KMS.EnableKeyRotation(e.root(t), &kmsclient.EnableKeyRotationInput{KeyID: other.KeyID})
	wantErr(t, err, kmsclient.ErrDisabled)
	_, err = e.KMS.RotateKeyOnDemand(e.root(t), &kmsclient.KeyIDInput{KeyID: other.KeyID})
	wantErr(t, err, kmsclient.ErrDisabled)
	_, err = e.KMS.GetKeyRotationStatus(e.root(t), &kmsclient.KeyIDInput{KeyID: "alias/suite-nope"})
	wantErr(t, err, kmsclient.ErrNotFound)
	_, err = e.KMS.ListKeyRotations(e.root(t), &kmsclient.ListKeyRotationsInput{KeyID: k.KeyID, IncludeKeyMaterial: "BOGUS"})
	wantErr(t, err, kmsclient.ErrValidation)
}

// sealed is a ciphertext and what it should decrypt to.
type sealed struct {
	blob, plain []byte
	material    string
	ctx         map[string]string
}

func (e *Env) seal(t testing.TB, keyID string, i int) sealed {
	t.Helper()
	encCtx := map[string]string{"n": fmt.Sprint(i)}
	out := e.dataKey(t, keyID, encCtx)
	return sealed{blob: out.CiphertextBlob, plain: out.Plaintext, material: out.KeyMaterialID, ctx: encCtx}
}

func (e *Env) wantOpen(t testing.TB, s sealed) {
	t.Helper()
	out := e.wantPlain(t, e.root(t), s.blob, s.ctx, s.plain)
	if out.KeyMaterialID != s.material {
		t.Errorf("Decrypt KeyMaterialId %q, sealed under %q", out.KeyMaterialID, s.material)
	}
}

func testRotateKeyOnDemand(t *testing.T, e *Env) {
	k := e.createKey(t, nil)
	e.createAlias(t, "alias/suite-rotated", k.KeyID)
	policyBefore := must(e.KMS.GetKeyPolicy(e.root(t), &kmsclient.GetKeyPolicyInput{KeyID: k.KeyID}))(t).Policy

	var all []sealed
	for i := range 3 {
		if i > 0 {
			out := must(e.KMS.RotateKeyOnDemand(e.root(t), &kmsclient.KeyIDInput{KeyID: k.KeyID}))(t)
			if out.KeyID != k.Arn {
				t.Errorf("RotateKeyOnDemand KeyId = %q", out.KeyID)
			}
		}
		s := e.seal(t, "alias/suite-rotated", i)
		for _, prev := range all {
			if prev.material == s.material {
				t.Fatalf("after %d rotations the data key is still sealed under material %s", i, s.material)
			}
		}
		if cur := e.describe(t, k.KeyID).CurrentKeyMaterialID; cur != "" && cur != s.material {
			t.Errorf("CurrentKeyMaterialId %q, GenerateDataKey used %q", cur, s.material)
		}
		all = append(all, s)
	}
	for _, s := range all {
		e.wantOpen(t, s)
	}

	m := e.describe(t, "alias/suite-rotated")
	if m.KeyID != k.KeyID || m.Arn != k.Arn || m.KeyState != "Enabled" {
		t.Errorf("rotation changed the key: %+v", m)
	}
	if p := must(e.KMS.GetKeyPolicy(e.root(t), &kmsclient.GetKeyPolicyInput{KeyID: k.KeyID}))(t).Policy; p != policyBefore {
		t.Error("rotation changed the key policy")
	}

	rot := e.rotations(t, k.KeyID, "")
	if len(rot) != 2 {
		t.Fatalf("ListKeyRotations lists %d rotations, want 2: %+v", len(rot), rot)
	}
	for _, r := range rot {
		if r.RotationType != "ON_DEMAND" || r.KeyID != k.Arn || r.RotationDate == nil {
			t.Errorf("rotation %+v", r)
		}
	}
	checkMaterials(t, rot, all[1:])
	if only := e.rotations(t, k.KeyID, "ROTATIONS_ONLY"); len(only) != 2 {
		t.Errorf("ROTATIONS_ONLY lists %d, want 2", len(only))
	}
	everything := e.rotations(t, k.KeyID, "ALL_KEY_MATERIAL")
	if len(everything) != 3 {
		t.Fatalf("ALL_KEY_MATERIAL lists %d, want 3", len(everything))
	}
	checkMaterials(t, everything, all)

	page := must(e.KMS.ListKeyRotations(e.root(t), &kmsclient.ListKeyRotationsInput{KeyID: k.KeyID, Limit: 1}))(t)
	if len(page.Rotations) != 1 || !page.Truncated || page.NextMarker == "" {
		t.Errorf("ListKeyRotations Limit 1: %d entries, Truncated %v", len(page.Rotations), page.Truncated)
	}
}

// checkMaterials checks that the rotations list exactly the materials of
// sealed, the newest one CURRENT and the others NON_CURRENT.
func checkMaterials(t *testing.T, rot []kmsclient.RotationsListEntry, sealed []sealed) {
	t.Helper()
	state := map[string]string{}
	for _, r := range rot {
		state[r.KeyMaterialID] = r.KeyMaterialState
	}
	for i, s := range sealed {
		want := "NON_CURRENT"
		if i == len(sealed)-1 {
			want = "CURRENT"
		}
		if state[s.material] != want {
			t.Errorf("material %s: KeyMaterialState %q, want %q", s.material, state[s.material], want)
		}
	}
	if len(state) != len(sealed) {
		t.Errorf("%d distinct materials listed, want %d", len(state), len(sealed))
	}
}

func testOnDemandRotationLimit(t *testing.T, e *Env) {
	k := e.createKey(t, nil)
	first := e.seal(t, k.KeyID, 0)
	for i := range 25 {
		if _, err := e.KMS.RotateKeyOnDemand(e.root(t), &kmsclient.KeyIDInput{KeyID: k.KeyID}); err != nil {
			t.Fatalf("on-demand rotation %d: %v", i+1, err)
		}
	}
	_, err := e.KMS.RotateKeyOnDemand(e.root(t), &kmsclient.KeyIDInput{KeyID: k.KeyID})
	wantErr(t, err, kmsclient.ErrLimitExceeded)
	if n := len(e.rotations(t, k.KeyID, "")); n != 25 {
		t.Errorf("%d rotations listed, want 25", n)
	}
	e.wantOpen(t, first)
}

func testAutomaticRotation(t *testing.T, e *Env) {
	e.needAdvance(t)
	k := e.createKey(t, nil)
	must(e.KMS.EnableKeyRotation(e.root(t), &kmsclient.EnableKeyRotationInput{KeyID: k.KeyID, RotationPeriodInDays: 90}))(t)
	all := []sealed{e.seal(t, k.KeyID, 0)}

	e.Advance(t, 89*day)
	if n := len(e.rotations(t, k.KeyID, "")); n != 0 {
		t.Fatalf("%d rotations before the rotation date", n)
	}
	for i := 1; i <= 2; i++ {
		e.Advance(t, 90*day)
		rot := e.rotations(t, k.KeyID, "")
		if len(rot) != i {
			t.Fatalf("after %d periods, %d rotations: %+v", i, len(rot), rot)
		}
		for _, r := range rot {
			if r.RotationType != "AUTOMATIC" {
				t.Errorf("rotation type %q, want AUTOMATIC", r.RotationType)
			}
		}
		st := e.rotationStatus(t, k.KeyID)
		if !st.KeyRotationEnabled || st.NextRotationDate == nil {
			t.Fatalf("rotation status %+v", st)
		}
		near(t, "NextRotationDate", st.NextRotationDate.Time, k.CreationDate.AddDate(0, 0, 90*(i+1)), 10*time.Minute)
		s := e.seal(t, k.KeyID, i)
		if s.material == all[len(all)-1].material {
			t.Fatalf("after rotation %d new data keys still use material %s", i, s.material)
		}
		all = append(all, s)
	}
	for _, s := range all {
		e.wantOpen(t, s)
	}
	checkMaterials(t, e.rotations(t, k.KeyID, "ALL_KEY_MATERIAL"), all)
}

func testDisabledKeyNotRotated(t *testing.T, e *Env) {
	e.needAdvance(t)
	disabled, off := e.createKey(t, nil), e.createKey(t, nil)
	must(e.KMS.EnableKeyRotation(e.root(t), &kmsclient.EnableKeyRotationInput{KeyID: disabled.KeyID, RotationPeriodInDays: 90}))(t)
	before := e.seal(t, disabled.KeyID, 0)
	must(e.KMS.DisableKey(e.root(t), &kmsclient.KeyIDInput{KeyID: disabled.KeyID}))(t)

	e.Advance(t, 100*day)
	for _, k := range []*kmsclient.KeyMetadata{disabled, off} {
		if n := len(e.rotations(t, k.KeyID, "")); n != 0 {
			t.Errorf("key %s was rotated %d times", k.KeyID, n)
		}
	}

	// Re-enabled after its rotation date, the key rotates at once.
	must(e.KMS.EnableKey(e.root(t), &kmsclient.KeyIDInput{KeyID: disabled.KeyID}))(t)
	rot := e.rotations(t, disabled.KeyID, "")
	if len(rot) != 1 || rot[0].RotationType != "AUTOMATIC" {
		t.Fatalf("after re-enabling: rotations %+v, want one AUTOMATIC", rot)
	}
	if s := e.seal(t, disabled.KeyID, 1); s.material == before.material {
		t.Error("the re-enabled key still uses its old material")
	}
	e.wantOpen(t, before)
}

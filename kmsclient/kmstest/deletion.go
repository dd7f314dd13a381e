package kmstest

import (
	"testing"
	"time"

	"github.com/ebs-dev/ebs/kmsclient"
)

const day = 24 * time.Hour

func testScheduleKeyDeletion(t *testing.T, e *Env) {
	k, other := e.createKey(t, nil), e.createKey(t, nil)
	blob := e.encrypt(t, k.KeyID, []byte("doomed"), nil)
	for _, days := range []int{6, 31, -1} {
		_, err := e.KMS.ScheduleKeyDeletion(e.root(t), &kmsclient.ScheduleKeyDeletionInput{KeyID: k.KeyID, PendingWindowInDays: days})
		wantErr(t, err, kmsclient.ErrValidation)
	}
	if m := e.describe(t, k.KeyID); m.KeyState != "Enabled" {
		t.Fatalf("a refused ScheduleKeyDeletion left the key %s", m.KeyState)
	}

	out := must(e.KMS.ScheduleKeyDeletion(e.root(t), &kmsclient.ScheduleKeyDeletionInput{KeyID: k.KeyID}))(t)
	if out.KeyID != k.Arn || out.KeyState != "PendingDeletion" || out.PendingWindowInDays != 30 || out.DeletionDate == nil {
		t.Fatalf("ScheduleKeyDeletion = %+v", out)
	}
	near(t, "DeletionDate", out.DeletionDate.Time, k.CreationDate.Add(30*day), 10*time.Minute)

	m := e.describe(t, k.KeyID)
	if m.Enabled || m.KeyState != "PendingDeletion" || m.PendingDeletionWindow != 30 {
		t.Errorf("pending key: Enabled %v KeyState %q PendingDeletionWindowInDays %d", m.Enabled, m.KeyState, m.PendingDeletionWindow)
	}
	if m.DeletionDate == nil || !m.DeletionDate.Equal(out.DeletionDate.Time) {
		t.Errorf("DescribeKey DeletionDate %v, ScheduleKeyDeletion said %v", m.DeletionDate, out.DeletionDate)
	}

	wantAllErr(t, e.cryptoCalls(t, k.KeyID, blob, other.KeyID), kmsclient.ErrInvalidState)
	_, err := e.KMS.ScheduleKeyDeletion(e.root(t), &kmsclient.ScheduleKeyDeletionInput{KeyID: k.KeyID, PendingWindowInDays: 7})
	wantErr(t, err, kmsclient.ErrInvalidState)
	for name, call := range map[string]func() error{
		"EnableKey":  func() error { _, err := e.KMS.EnableKey(e.root(t), &kmsclient.KeyIDInput{KeyID: k.KeyID}); return err },
		"DisableKey": func() error { _, err := e.KMS.DisableKey(e.root(t), &kmsclient.KeyIDInput{KeyID: k.KeyID}); return err },
		"CreateAlias": func() error {
			_, err := e.KMS.CreateAlias(e.root(t), &kmsclient.AliasInput{AliasName: "alias/suite-pending", TargetKeyID: k.KeyID})
			return err
		},
		"TagResource": func() error {
			_, err := e.KMS.TagResource(e.root(t), &kmsclient.TagResourceInput{KeyID: k.KeyID, Tags: []kmsclient.Tag{{TagKey: "a", TagValue: "b"}}})
			return err
		},
	} {
		if err := call(); err == nil {
			t.Errorf("%s on a key pending deletion succeeded", name)
		} else {
			wantErr(t, err, kmsclient.ErrInvalidState)
		}
	}
	// Metadata calls still work.
	must(e.KMS.GetKeyPolicy(e.root(t), &kmsclient.GetKeyPolicyInput{KeyID: k.KeyID, PolicyName: "default"}))(t)
	must(e.KMS.ListResourceTags(e.root(t), &kmsclient.ListInput{KeyID: k.KeyID}))(t)

	out7 := must(e.KMS.ScheduleKeyDeletion(e.root(t), &kmsclient.ScheduleKeyDeletionInput{KeyID: other.Arn, PendingWindowInDays: 7}))(t)
	if out7.PendingWindowInDays != 7 {
		t.Errorf("PendingWindowInDays = %d, want 7", out7.PendingWindowInDays)
	}
	near(t, "DeletionDate", out7.DeletionDate.Time, k.CreationDate.Add(7*day), 10*time.Minute)
}

func testCancelKeyDeletion(t *testing.T, e *Env) {
	k := e.createKey(t, nil)
	plain := []byte("saved")
	blob := e.encrypt(t, k.KeyID, plain, nil)
	_, err := e.KMS.CancelKeyDeletion(e.root(t), &kmsclient.KeyIDInput{KeyID: k.KeyID})
	wantErr(t, err, kmsclient.ErrInvalidState) // enabled, not pending deletion

	must(e.KMS.EnableKeyRotation(e.root(t), &kmsclient.EnableKeyRotationInput{KeyID: k.KeyID, RotationPeriodInDays: 100}))(t)
	must(e.KMS.ScheduleKeyDeletion(e.root(t), &kmsclient.ScheduleKeyDeletionInput{KeyID: k.KeyID, PendingWindowInDays: 7}))(t)
	st := must(e.KMS.GetKeyRotationStatus(e.root(t), &kmsclient.KeyIDInput{KeyID: k.KeyID}))(t)
	if st.KeyRotationEnabled {
		t.Error("a key pending deletion reports rotation enabled")
	}

	out := must(e.KMS.CancelKeyDeletion(e.root(t), &kmsclient.KeyIDInput{KeyID: k.KeyID}))(t)
	if out.KeyID != k.Arn {
		t.Errorf("CancelKeyDeletion KeyId = %q, want %q", out.KeyID, k.Arn)
	}
	m := e.describe(t, k.KeyID)
	if m.KeyState != "Disabled" || m.Enabled || m.DeletionDate != nil || m.PendingDeletionWindow != 0 {
		t.Errorf("after CancelKeyDeletion: KeyState %q Enabled %v DeletionDate %v window %d, want Disabled",
			m.KeyState, m.Enabled, m.DeletionDate, m.PendingDeletionWindow)
	}
	st = must(e.KMS.GetKeyRotationStatus(e.root(t), &kmsclient.KeyIDInput{KeyID: k.KeyID}))(t)
	if !st.KeyRotationEnabled || st.RotationPeriodInDays != 100 {
		t.Errorf("rotation status after cancel: %+v, want the previous one restored", st)
	}
	_, err = e.KMS.CancelKeyDeletion(e.root(t), &kmsclient.KeyIDInput{KeyID: k.KeyID})
	wantErr(t, err, kmsclient.ErrInvalidState) // disabled, not pending deletion
	_, err = e.decrypt(t, e.root(t), blob, nil)
	wantErr(t, err, kmsclient.ErrDisabled)

	must(e.KMS.EnableKey(e.root(t), &kmsclient.KeyIDInput{KeyID: k.KeyID}))(t)
	e.wantPlain(t, e.root(t), blob, nil, plain)
}

func testKeyDeletedAfterWaitingPeriod(t *testing.T, e *Env) {
	e.needAdvance(t)
	k, keep := e.createKey(t, nil), e.createKey(t, nil)
	e.createAlias(t, "alias/suite-doomed", k.KeyID)
	e.createAlias(t, "alias/suite-kept", keep.KeyID)
	blob := e.encrypt(t, k.KeyID, []byte("lost forever"), nil)
	kept := e.encrypt(t, keep.KeyID, []byte("still here"), nil)
	must(e.KMS.ScheduleKeyDeletion(e.root(t), &kmsclient.ScheduleKeyDeletionInput{KeyID: k.KeyID, PendingWindowInDays: 7}))(t)

	e.Advance(t, 6*day)
	if m := e.describe(t, k.KeyID); m.KeyState != "PendingDeletion" {
		t.Fatalf("6 days into a 7-day window the key is %s", m.KeyState)
	}
	e.Advance(t, day+time.Hour)

	for _, id := range []string{k.KeyID, k.Arn, "alias/suite-doomed"} {
		_, err := e.KMS.DescribeKey(e.root(t), &kmsclient.KeyIDInput{KeyID: id})
		wantErr(t, err, kmsclient.ErrNotFound)
	}
	if e.keyIDs(t)[k.KeyID] {
		t.Error("ListKeys still lists the deleted key")
	}
	if _, ok := e.aliases(t, "")["alias/suite-doomed"]; ok {
		t.Error("the deleted key's alias is still listed")
	}
	_, err := e.decrypt(t, e.root(t), blob, nil)
	wantErr(t, err, kmsclient.ErrAccessDenied)
	_, err = e.KMS.CancelKeyDeletion(e.root(t), &kmsclient.KeyIDInput{KeyID: k.KeyID})
	wantErr(t, err, kmsclient.ErrNotFound)

	// The other key and its alias are untouched, and the name is free again.
	e.wantPlain(t, e.root(t), kept, nil, []byte("still here"))
	if got := e.describe(t, "alias/suite-kept"); got.KeyID != keep.KeyID {
		t.Errorf("alias/suite-kept names %s", got.KeyID)
	}
	e.createAlias(t, "alias/suite-doomed", keep.KeyID)
}

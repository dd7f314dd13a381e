package kmstest

import (
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/ebs-dev/ebs/kmsclient"
)

func testCreateDescribe(t *testing.T, e *Env) {
	k := e.createKey(t, &kmsclient.CreateKeyInput{Description: "suite key"})
	if _, err := uuid.Parse(k.KeyID); err != nil {
		t.Errorf("KeyId %q is not a UUID", k.KeyID)
	}
	checkNewKey(t, e, k)
	if k.Description != "suite key" {
		t.Errorf("Description = %q", k.Description)
	}

	e.createAlias(t, "alias/suite-describe", k.KeyID)
	for _, id := range []string{k.KeyID, k.Arn, "alias/suite-describe", e.aliasArn("alias/suite-describe")} {
		got := e.describe(t, id)
		if got.KeyID != k.KeyID || got.Arn != k.Arn {
			t.Errorf("DescribeKey(%s) = %s %s, want %s %s", id, got.KeyID, got.Arn, k.KeyID, k.Arn)
		}
		checkNewKey(t, e, got)
	}

	must(e.KMS.UpdateKeyDescription(e.root(t), &kmsclient.UpdateKeyDescriptionInput{KeyID: k.Arn, Description: "renamed"}))(t)
	if got := e.describe(t, k.KeyID); got.Description != "renamed" {
		t.Errorf("Description after UpdateKeyDescription = %q", got.Description)
	}
}

// checkNewKey checks the metadata of a new customer managed symmetric key.
func checkNewKey(t *testing.T, e *Env, k *kmsclient.KeyMetadata) {
	t.Helper()
	if want := e.keyArn(k.KeyID); k.Arn != want {
		t.Errorf("Arn = %q, want %q", k.Arn, want)
	}
	checks := []struct{ field, got, want string }{
		{"AWSAccountId", k.AWSAccountID, e.Account},
		{"KeyState", k.KeyState, "Enabled"},
		{"KeyUsage", k.KeyUsage, "ENCRYPT_DECRYPT"},
		{"KeySpec", k.KeySpec, "SYMMETRIC_DEFAULT"},
		{"CustomerMasterKeySpec", k.CustomerMasterKeySpec, "SYMMETRIC_DEFAULT"},
		{"Origin", k.Origin, "AWS_KMS"},
		{"KeyManager", k.KeyManager, "CUSTOMER"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.field, c.got, c.want)
		}
	}
	if !k.Enabled {
		t.Error("Enabled = false")
	}
	if !slices.Equal(k.EncryptionAlgorithms, []string{"SYMMETRIC_DEFAULT"}) {
		t.Errorf("EncryptionAlgorithms = %v", k.EncryptionAlgorithms)
	}
	if k.CreationDate == nil || k.CreationDate.IsZero() {
		t.Error("no CreationDate")
	}
	if k.DeletionDate != nil || k.PendingDeletionWindow != 0 {
		t.Errorf("DeletionDate %v, PendingDeletionWindowInDays %d on a live key", k.DeletionDate, k.PendingDeletionWindow)
	}
	if k.MultiRegion {
		t.Error("MultiRegion = true")
	}
}

func testKeyNotFound(t *testing.T, e *Env) {
	e.createKey(t, nil)
	missing := uuid.NewString()
	for _, id := range []string{missing, e.keyArn(missing), "alias/suite-missing", e.aliasArn("alias/suite-missing")} {
		_, err := e.KMS.DescribeKey(e.root(t), &kmsclient.KeyIDInput{KeyID: id})
		wantErr(t, err, kmsclient.ErrNotFound)
		_, err = e.KMS.Encrypt(e.root(t), &kmsclient.EncryptInput{KeyID: id, Plaintext: []byte("x")})
		wantErr(t, err, kmsclient.ErrNotFound)
		_, err = e.KMS.GenerateDataKey(e.root(t), &kmsclient.GenerateDataKeyInput{KeyID: id, NumberOfBytes: 32})
		wantErr(t, err, kmsclient.ErrNotFound)
	}
	_, err := e.KMS.DescribeKey(e.root(t), &kmsclient.KeyIDInput{})
	wantErr(t, err, kmsclient.ErrValidation)
}

func testListKeysPaging(t *testing.T, e *Env) {
	want := map[string]string{}
	for range 5 {
		k := e.createKey(t, nil)
		want[k.KeyID] = k.Arn
	}
	seen := map[string]int{}
	marker, pages := "", 0
	for {
		out := must(e.KMS.ListKeys(e.root(t), &kmsclient.ListInput{Limit: 2, Marker: marker}))(t)
		pages++
		if len(out.Keys) > 2 {
			t.Fatalf("page %d has %d keys, Limit is 2", pages, len(out.Keys))
		}
		for _, k := range out.Keys {
			seen[k.KeyID]++
			if arn, ok := want[k.KeyID]; ok && k.KeyArn != arn {
				t.Errorf("KeyArn of %s = %q, want %q", k.KeyID, k.KeyArn, arn)
			}
		}
		if !out.Truncated {
			if out.NextMarker != "" {
				t.Errorf("last page has NextMarker %q", out.NextMarker)
			}
			break
		}
		if out.NextMarker == "" {
			t.Fatal("Truncated page without NextMarker")
		}
		marker = out.NextMarker
	}
	if pages < 3 {
		t.Errorf("5 keys in %d pages of at most 2", pages)
	}
	for id := range want {
		if seen[id] != 1 {
			t.Errorf("key %s listed %d times", id, seen[id])
		}
	}

	all := must(e.KMS.ListKeys(e.root(t), &kmsclient.ListInput{}))(t)
	if all.Truncated || len(all.Keys) < 5 {
		t.Errorf("ListKeys without Limit: %d keys, Truncated %v", len(all.Keys), all.Truncated)
	}
	_, err := e.KMS.ListKeys(e.root(t), &kmsclient.ListInput{Limit: 1001})
	wantErr(t, err, kmsclient.ErrValidation)
	_, err = e.KMS.ListKeys(e.root(t), &kmsclient.ListInput{Marker: "not a marker!"})
	wantErr(t, err, kmsclient.ErrInvalidMarker)
}

func testTags(t *testing.T, e *Env) {
	k := e.createKey(t, &kmsclient.CreateKeyInput{Tags: []kmsclient.Tag{{TagKey: "a", TagValue: "1"}, {TagKey: "b", TagValue: "2"}}})
	wantTags := func(want map[string]string) {
		t.Helper()
		out := must(e.KMS.ListResourceTags(e.root(t), &kmsclient.ListInput{KeyID: k.KeyID}))(t)
		got := map[string]string{}
		for _, tag := range out.Tags {
			got[tag.TagKey] = tag.TagValue
		}
		if len(got) != len(out.Tags) || len(got) != len(want) {
			t.Fatalf("tags %v, want %v", out.Tags, want)
		}
		for key, v := range want {
			if got[key] != v {
				t.Fatalf("tags %v, want %v", out.Tags, want)
			}
		}
	}
	wantTags(map[string]string{"a": "1", "b": "2"})

	must(e.KMS.TagResource(e.root(t), &kmsclient.TagResourceInput{KeyID: k.Arn, Tags: []kmsclient.Tag{{TagKey: "b", TagValue: "3"}, {TagKey: "c", TagValue: "4"}}}))(t)
	wantTags(map[string]string{"a": "1", "b": "3", "c": "4"})

	must(e.KMS.UntagResource(e.root(t), &kmsclient.UntagResourceInput{KeyID: k.KeyID, TagKeys: []string{"a"}}))(t)
	wantTags(map[string]string{"b": "3", "c": "4"})

	_, err := e.KMS.TagResource(e.root(t), &kmsclient.TagResourceInput{KeyID: k.KeyID, Tags: []kmsclient.Tag{{TagKey: "aws:reserved", TagValue: "x"}}})
	wantErr(t, err, kmsclient.ErrTag)
	_, err = e.KMS.CreateKey(e.root(t), &kmsclient.CreateKeyInput{Tags: []kmsclient.Tag{{TagKey: "", TagValue: "x"}}})
	wantErr(t, err, kmsclient.ErrTag)
	wantTags(map[string]string{"b": "3", "c": "4"})

	_, err = e.KMS.ListResourceTags(e.root(t), &kmsclient.ListInput{KeyID: uuid.NewString()})
	wantErr(t, err, kmsclient.ErrNotFound)
}

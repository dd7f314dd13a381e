package kmstest

import (
	"strings"
	"testing"

	"github.com/ebs-dev/ebs/kmsclient"
)

func testAliases(t *testing.T, e *Env) {
	a, b := e.createKey(t, nil), e.createKey(t, nil)
	e.createAlias(t, "alias/suite-a", a.KeyID)
	e.createAlias(t, "alias/suite-by-arn", a.Arn) // stored as the bare key id

	got := e.aliases(t, a.KeyID)
	if len(got) != 2 {
		t.Fatalf("ListAliases(KeyId a) = %v, want alias/suite-a and alias/suite-by-arn", got)
	}
	for _, name := range []string{"alias/suite-a", "alias/suite-by-arn"} {
		al := got[name]
		if al.TargetKeyID != a.KeyID || al.AliasArn != e.aliasArn(name) {
			t.Errorf("%s: TargetKeyId %q AliasArn %q, want %q %q", name, al.TargetKeyID, al.AliasArn, a.KeyID, e.aliasArn(name))
		}
		if al.CreationDate == nil || al.LastUpdatedDate == nil {
			t.Errorf("%s: no CreationDate or LastUpdatedDate", name)
		}
	}
	if all := e.aliases(t, ""); all["alias/suite-a"].TargetKeyID != a.KeyID {
		t.Errorf("ListAliases() lacks alias/suite-a: %v", all)
	}

	_, err := e.KMS.CreateAlias(e.root(t), &kmsclient.AliasInput{AliasName: "alias/suite-a", TargetKeyID: b.KeyID})
	wantErr(t, err, kmsclient.ErrAlreadyExists)
	_, err = e.KMS.CreateAlias(e.root(t), &kmsclient.AliasInput{AliasName: "alias/suite-new", TargetKeyID: "alias/suite-a"})
	// AWS does not document the error for an alias as TargetKeyId.
	wantErr(t, err, kmsclient.ErrValidation, kmsclient.ErrNotFound)
	_, err = e.KMS.CreateAlias(e.root(t), &kmsclient.AliasInput{AliasName: "alias/suite-new", TargetKeyID: e.aliasArn("alias/suite-a")})
	wantErr(t, err, kmsclient.ErrValidation, kmsclient.ErrNotFound)
	_, err = e.KMS.CreateAlias(e.root(t), &kmsclient.AliasInput{AliasName: "alias/suite-new", TargetKeyID: "00000000-0000-4000-8000-000000000000"})
	wantErr(t, err, kmsclient.ErrNotFound)
	if _, ok := e.aliases(t, "")["alias/suite-new"]; ok {
		t.Error("a refused CreateAlias left alias/suite-new behind")
	}

	// UpdateAlias moves the alias; the alias ARN keeps working.
	must(e.KMS.UpdateAlias(e.root(t), &kmsclient.AliasInput{AliasName: "alias/suite-a", TargetKeyID: b.KeyID}))(t)
	for _, id := range []string{"alias/suite-a", e.aliasArn("alias/suite-a")} {
		if got := e.describe(t, id); got.KeyID != b.KeyID {
			t.Errorf("after UpdateAlias, %s names %s, want %s", id, got.KeyID, b.KeyID)
		}
	}
	blob := e.encrypt(t, "alias/suite-a", []byte("to b"), nil)
	if out := e.wantPlain(t, e.root(t), blob, nil, []byte("to b")); out.KeyID != b.Arn {
		t.Errorf("Encrypt with alias/suite-a used %s, want %s", out.KeyID, b.Arn)
	}
	if got := e.aliases(t, b.KeyID); got["alias/suite-a"].TargetKeyID != b.KeyID || len(got) != 1 {
		t.Errorf("ListAliases(KeyId b) = %v", got)
	}
	_, err = e.KMS.UpdateAlias(e.root(t), &kmsclient.AliasInput{AliasName: "alias/suite-nope", TargetKeyID: b.KeyID})
	wantErr(t, err, kmsclient.ErrNotFound)

	// DeleteAlias removes only the alias.
	must(e.KMS.DeleteAlias(e.root(t), &kmsclient.DeleteAliasInput{AliasName: "alias/suite-a"}))(t)
	_, err = e.KMS.DescribeKey(e.root(t), &kmsclient.KeyIDInput{KeyID: "alias/suite-a"})
	wantErr(t, err, kmsclient.ErrNotFound)
	e.describe(t, b.KeyID)
	_, err = e.KMS.DeleteAlias(e.root(t), &kmsclient.DeleteAliasInput{AliasName: "alias/suite-a"})
	wantErr(t, err, kmsclient.ErrNotFound)
	// The name can be used again.
	e.createAlias(t, "alias/suite-a", a.KeyID)

	// Paging through aliases.
	for _, n := range []string{"p1", "p2", "p3"} {
		e.createAlias(t, "alias/suite-page-"+n, b.KeyID)
	}
	page := must(e.KMS.ListAliases(e.root(t), &kmsclient.ListInput{Limit: 1}))(t)
	if len(page.Aliases) != 1 || !page.Truncated || page.NextMarker == "" {
		t.Errorf("ListAliases Limit 1: %d aliases, Truncated %v, NextMarker %q", len(page.Aliases), page.Truncated, page.NextMarker)
	}
	if got := e.aliases(t, b.KeyID); len(got) != 3 {
		t.Errorf("paging ListAliases(KeyId b) found %d aliases, want 3", len(got))
	}
}

func testAliasNameRules(t *testing.T, e *Env) {
	k := e.createKey(t, nil)
	for _, name := range []string{
		"suite-no-prefix", "alias/", "alias/has space", "alias/bad*char", "alias/" + strings.Repeat("x", 251),
	} {
		_, err := e.KMS.CreateAlias(e.root(t), &kmsclient.AliasInput{AliasName: name, TargetKeyID: k.KeyID})
		wantErr(t, err, kmsclient.ErrValidation)
	}
	for _, name := range []string{"alias/aws/suite", "alias/aws/ebs"} {
		_, err := e.KMS.CreateAlias(e.root(t), &kmsclient.AliasInput{AliasName: name, TargetKeyID: k.KeyID})
		wantErr(t, err, kmsclient.ErrInvalidAliasName)
	}
	for _, name := range []string{"alias/" + strings.Repeat("x", 250), "alias/a-b_c/d:e", "alias/awsome", "alias/aws"} {
		e.createAlias(t, name, k.KeyID)
	}
	if got := e.aliases(t, k.KeyID); len(got) != 4 {
		t.Errorf("ListAliases = %v, want the 4 valid names", got)
	}
}

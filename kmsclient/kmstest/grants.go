package kmstest

import (
	"context"
	"maps"
	"slices"
	"testing"

	"github.com/ebs-dev/ebs/kmsclient"
)

// grantKey makes a key whose policy lets the account administer it and
// encrypt with it, but lets nobody decrypt or generate data keys: those
// need a grant.
func (e *Env) grantKey(t *testing.T) *kmsclient.KeyMetadata {
	t.Helper()
	k := e.createKey(t, nil)
	e.setPolicy(t, k.KeyID, policyOf(allow(e.rootArn(), append(slices.Clone(adminActions), "kms:Encrypt")...)))
	return k
}

func testGrants(t *testing.T, e *Env) {
	k := e.grantKey(t)
	carol, dave := e.user(t, "carol"), e.user(t, "dave")
	x, y := map[string]string{"app": "x", "env": "dev"}, map[string]string{"app": "y"}
	plain := []byte("granted")
	blobX, blobY, blobN := e.encrypt(t, k.KeyID, plain, x), e.encrypt(t, k.KeyID, plain, y), e.encrypt(t, k.KeyID, plain, nil)

	for _, who := range []context.Context{e.root(t), carol} {
		_, err := e.decrypt(t, who, blobX, x)
		wantErr(t, err, kmsclient.ErrAccessDenied)
	}

	subset := map[string]string{"app": "x"}
	g := must(e.KMS.CreateGrant(e.root(t), &kmsclient.CreateGrantInput{
		KeyID: k.Arn, GranteePrincipal: e.userArn("carol"), RetiringPrincipal: e.userArn("dave"),
		Operations: []string{"Decrypt"}, Constraints: &kmsclient.GrantConstraints{EncryptionContextSubset: subset}, Name: "suite-grant",
	}))(t)
	if g.GrantID == "" || g.GrantToken == "" {
		t.Fatalf("CreateGrant = %+v", g)
	}
	e.wantPlain(t, carol, blobX, x, plain)
	for _, c := range []struct {
		blob []byte
		ctx  map[string]string
	}{{blobY, y}, {blobN, nil}} {
		_, err := e.decrypt(t, carol, c.blob, c.ctx)
		wantErr(t, err, kmsclient.ErrAccessDenied)
	}
	_, err := e.decrypt(t, e.user(t, "bob"), blobX, x)
	wantErr(t, err, kmsclient.ErrAccessDenied)

	list := e.grants(t, k.KeyID)
	if len(list) != 1 {
		t.Fatalf("ListGrants lists %d grants, want 1", len(list))
	}
	gl := list[0]
	if gl.GrantID != g.GrantID || gl.KeyID != k.Arn || gl.GranteePrincipal != e.userArn("carol") ||
		gl.RetiringPrincipal != e.userArn("dave") || gl.Name != "suite-grant" || gl.CreationDate == nil ||
		!slices.Equal(gl.Operations, []string{"Decrypt"}) {
		t.Errorf("ListGrants entry %+v", gl)
	}
	if gl.Constraints == nil || !maps.Equal(gl.Constraints.EncryptionContextSubset, subset) {
		t.Errorf("ListGrants constraints %+v", gl.Constraints)
	}
	if n := len(must(e.KMS.ListGrants(e.root(t), &kmsclient.ListGrantsInput{KeyID: k.KeyID, GrantID: g.GrantID}))(t).Grants); n != 1 {
		t.Errorf("ListGrants by GrantId: %d", n)
	}
	if n := len(must(e.KMS.ListGrants(e.root(t), &kmsclient.ListGrantsInput{KeyID: k.KeyID, GranteePrincipal: e.userArn("bob")}))(t).Grants); n != 0 {
		t.Errorf("ListGrants by another grantee: %d", n)
	}

	// A principal of another account cannot retire it; its retiring
	// principal can, by token (testRetireGrantRules has the other rules).
	_, err = e.KMS.RetireGrant(e.outsider(t, "eve"), &kmsclient.RetireGrantInput{GrantToken: g.GrantToken})
	wantErr(t, err, kmsclient.ErrAccessDenied)
	must(e.KMS.RetireGrant(dave, &kmsclient.RetireGrantInput{GrantToken: g.GrantToken}))(t)
	_, err = e.decrypt(t, carol, blobX, x)
	wantErr(t, err, kmsclient.ErrAccessDenied)
	if n := len(e.grants(t, k.KeyID)); n != 0 {
		t.Errorf("%d grants listed after RetireGrant", n)
	}
	_, err = e.KMS.RetireGrant(dave, &kmsclient.RetireGrantInput{GrantToken: "bm90IGEgZ3JhbnQgdG9rZW4"})
	wantErr(t, err, kmsclient.ErrInvalidGrantToken, kmsclient.ErrNotFound)

	// RevokeGrant by an administrator.
	g2 := must(e.KMS.CreateGrant(e.root(t), &kmsclient.CreateGrantInput{KeyID: k.KeyID, GranteePrincipal: e.userArn("carol"), Operations: []string{"Decrypt", "GenerateDataKey"}}))(t)
	e.wantPlain(t, carol, blobN, nil, plain)
	must(e.KMS.GenerateDataKey(carol, &kmsclient.GenerateDataKeyInput{KeyID: k.KeyID, KeySpec: "AES_256"}))(t)
	must(e.KMS.RevokeGrant(e.root(t), &kmsclient.RevokeGrantInput{KeyID: k.KeyID, GrantID: g2.GrantID}))(t)
	_, err = e.decrypt(t, carol, blobN, nil)
	wantErr(t, err, kmsclient.ErrAccessDenied)
	_, err = e.KMS.GenerateDataKey(carol, &kmsclient.GenerateDataKeyInput{KeyID: k.KeyID, KeySpec: "AES_256"})
	wantErr(t, err, kmsclient.ErrAccessDenied)
	_, err = e.KMS.RevokeGrant(e.root(t), &kmsclient.RevokeGrantInput{KeyID: k.KeyID, GrantID: g2.GrantID})
	wantErr(t, err, kmsclient.ErrInvalidGrantID, kmsclient.ErrNotFound)

	// A grantee whose grant includes RetireGrant retires it by key and grant id.
	g3 := must(e.KMS.CreateGrant(e.root(t), &kmsclient.CreateGrantInput{KeyID: k.KeyID, GranteePrincipal: e.userArn("carol"), Operations: []string{"Decrypt", "RetireGrant"}}))(t)
	e.wantPlain(t, carol, blobY, y, plain)
	must(e.KMS.RetireGrant(carol, &kmsclient.RetireGrantInput{KeyID: k.Arn, GrantID: g3.GrantID}))(t)
	_, err = e.decrypt(t, carol, blobY, y)
	wantErr(t, err, kmsclient.ErrAccessDenied)

	// Invalid grants.
	for _, in := range []kmsclient.CreateGrantInput{
		{GranteePrincipal: e.userArn("carol")},
		{GranteePrincipal: e.userArn("carol"), Operations: []string{"Bogus"}},
		{Operations: []string{"Decrypt"}},
	} {
		in.KeyID = k.KeyID
		_, err := e.KMS.CreateGrant(e.root(t), &in)
		wantErr(t, err, kmsclient.ErrValidation)
	}
	must(e.KMS.DisableKey(e.root(t), &kmsclient.KeyIDInput{KeyID: k.KeyID}))(t)
	_, err = e.KMS.CreateGrant(e.root(t), &kmsclient.CreateGrantInput{KeyID: k.KeyID, GranteePrincipal: e.userArn("carol"), Operations: []string{"Decrypt"}})
	wantErr(t, err, kmsclient.ErrDisabled)
}

func testGrantConstraints(t *testing.T, e *Env) {
	k := e.grantKey(t)
	carol := e.user(t, "carol")
	x := map[string]string{"app": "x", "env": "dev"}
	plain := []byte("constrained")
	equals := map[string]string{"app": "x", "env": "dev"}
	must(e.KMS.CreateGrant(e.root(t), &kmsclient.CreateGrantInput{
		KeyID: k.KeyID, GranteePrincipal: e.userArn("carol"), Operations: []string{"Decrypt", "GenerateDataKey"},
		Constraints: &kmsclient.GrantConstraints{EncryptionContextEquals: equals},
	}))(t)
	e.wantPlain(t, carol, e.encrypt(t, k.KeyID, plain, x), x, plain)
	for _, c := range []map[string]string{{"app": "x"}, {"app": "x", "env": "dev", "extra": "1"}, {"app": "x", "env": "prod"}, nil} {
		_, err := e.decrypt(t, carol, e.encrypt(t, k.KeyID, plain, c), c)
		wantErr(t, err, kmsclient.ErrAccessDenied)
		_, err = e.KMS.GenerateDataKey(carol, &kmsclient.GenerateDataKeyInput{KeyID: k.KeyID, NumberOfBytes: 32, EncryptionContext: c})
		wantErr(t, err, kmsclient.ErrAccessDenied)
	}
	gen := must(e.KMS.GenerateDataKey(carol, &kmsclient.GenerateDataKeyInput{KeyID: k.KeyID, NumberOfBytes: 32, EncryptionContext: x}))(t)
	e.wantPlain(t, carol, gen.CiphertextBlob, x, gen.Plaintext)

	// Subset and Equals together are refused.
	_, err := e.KMS.CreateGrant(e.root(t), &kmsclient.CreateGrantInput{
		KeyID: k.KeyID, GranteePrincipal: e.userArn("carol"), Operations: []string{"Decrypt"},
		Constraints: &kmsclient.GrantConstraints{EncryptionContextEquals: equals, EncryptionContextSubset: equals},
	})
	wantErr(t, err, kmsclient.ErrValidation)
}

package kmstest

import (
	"context"
	"testing"

	"github.com/ebs-dev/ebs/kmsclient"
)

// The rules of grants beyond their use (AWS, "Grants in AWS KMS"): what a
// grant that allows CreateGrant lets its grantee create, who a grantee
// principal covers, where constraints apply, who may retire a grant.

var allGrantOperations = []string{
	"Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
	"ReEncryptFrom", "ReEncryptTo", "CreateGrant", "RetireGrant", "DescribeKey",
}

// rootOnlyKey makes a key whose policy allows actions to the account's root
// user only, not (by delegation) to the account's other principals: what
// they may do comes from grants alone.
func (e *Env) rootOnlyKey(t *testing.T, actions ...string) *kmsclient.KeyMetadata {
	t.Helper()
	k := e.createKey(t, nil)
	s := allow(e.rootArn(), actions...)
	s.Condition = map[string]any{"StringEquals": map[string]any{"aws:PrincipalArn": e.rootArn()}}
	e.setPolicy(t, k.KeyID, policyOf(s))
	return k
}

// session is a session of an IAM role of the account.
func (e *Env) session(t testing.TB, role, name string) context.Context {
	return kmsclient.WithCaller(t.Context(), kmsclient.Caller{
		ARN:       "arn:aws:sts::" + e.Account + ":assumed-role/" + role + "/" + name,
		AccountID: e.Account, PrincipalID: "AROA" + role + ":" + name, Type: "AssumedRole",
	})
}

func (e *Env) createGrant(ctx context.Context, keyID, grantee string, ops []string, cs *kmsclient.GrantConstraints) (*kmsclient.CreateGrantOutput, error) {
	return e.KMS.CreateGrant(ctx, &kmsclient.CreateGrantInput{KeyID: keyID, GranteePrincipal: grantee, Operations: ops, Constraints: cs})
}

func subsetOf(pairs map[string]string) *kmsclient.GrantConstraints {
	return &kmsclient.GrantConstraints{EncryptionContextSubset: pairs}
}

func equalsOf(pairs map[string]string) *kmsclient.GrantConstraints {
	return &kmsclient.GrantConstraints{EncryptionContextEquals: pairs}
}

// testGrantEscalation: a grant that allows CreateGrant lets its grantee
// create grants with a subset of its operations and constraints at least as
// strict, and nothing more.
func testGrantEscalation(t *testing.T, e *Env) {
	k := e.rootOnlyKey(t, append(adminActions, "kms:Encrypt")...)
	carol, dave, frank := e.user(t, "carol"), e.user(t, "dave"), e.user(t, "frank")

	// {Decrypt, CreateGrant} gives neither more operations to oneself nor
	// any to others.
	must(e.createGrant(e.root(t), k.KeyID, e.userArn("bob"), []string{"Decrypt", "CreateGrant"}, nil))(t)
	for _, grantee := range []string{"bob", "dave"} {
		_, err := e.createGrant(e.user(t, "bob"), k.KeyID, e.userArn(grantee), allGrantOperations, nil)
		wantErr(t, err, kmsclient.ErrAccessDenied)
	}
	must(e.createGrant(e.user(t, "bob"), k.KeyID, e.userArn("henry"), []string{"Decrypt"}, nil))(t)

	x := map[string]string{"app": "x"}
	xd := map[string]string{"app": "x", "env": "dev"}
	must(e.createGrant(e.root(t), k.KeyID, e.userArn("carol"), []string{"Decrypt", "CreateGrant"}, subsetOf(x)))(t)

	for _, c := range []struct {
		grantee string
		ops     []string
		cs      *kmsclient.GrantConstraints
	}{
		{"carol", []string{"Decrypt", "Encrypt"}, subsetOf(x)},
		{"dave", allGrantOperations, subsetOf(x)},
		{"dave", []string{"Decrypt", "CreateGrant", "RetireGrant"}, subsetOf(x)},
		{"dave", []string{"Decrypt"}, nil},
		{"dave", []string{"Decrypt"}, subsetOf(map[string]string{"env": "dev"})},
		{"dave", []string{"Decrypt"}, subsetOf(map[string]string{"app": "y"})},
		{"dave", []string{"Decrypt"}, equalsOf(map[string]string{"env": "dev"})},
	} {
		_, err := e.createGrant(carol, k.KeyID, e.userArn(c.grantee), c.ops, c.cs)
		wantErr(t, err, kmsclient.ErrAccessDenied)
	}
	if n := len(e.grants(t, k.KeyID)); n != 3 {
		t.Fatalf("%d grants after refused CreateGrant calls, want 3", n)
	}

	// A subset of the operations with more pairs is allowed, and the new
	// grant allows CreateGrant within its own limits in turn.
	must(e.createGrant(carol, k.KeyID, e.userArn("dave"), []string{"Decrypt", "CreateGrant"}, subsetOf(xd)))(t)
	plain := []byte("escalation")
	e.wantPlain(t, dave, e.encrypt(t, k.KeyID, plain, xd), xd, plain)
	_, err := e.decrypt(t, dave, e.encrypt(t, k.KeyID, plain, x), x)
	wantErr(t, err, kmsclient.ErrAccessDenied)
	_, err = e.createGrant(dave, k.KeyID, e.userArn("erin"), []string{"Decrypt"}, subsetOf(x))
	wantErr(t, err, kmsclient.ErrAccessDenied)
	must(e.createGrant(dave, k.KeyID, e.userArn("erin"), []string{"Decrypt"}, equalsOf(map[string]string{"app": "x", "env": "dev", "k": "v"})))(t)

	// Subset may become Equals, never the reverse; Equals stays the same.
	must(e.createGrant(carol, k.KeyID, e.userArn("frank"), []string{"CreateGrant", "Decrypt"}, equalsOf(xd)))(t)
	for _, cs := range []*kmsclient.GrantConstraints{subsetOf(xd), equalsOf(x), equalsOf(map[string]string{"app": "x", "env": "dev", "k": "v"}), nil} {
		_, err := e.createGrant(frank, k.KeyID, e.userArn("gina"), []string{"Decrypt"}, cs)
		wantErr(t, err, kmsclient.ErrAccessDenied)
	}
	must(e.createGrant(frank, k.KeyID, e.userArn("gina"), []string{"Decrypt"}, equalsOf(xd)))(t)

	// CreateGrant allowed by the key policy is not limited by any grant.
	must(e.createGrant(e.root(t), k.KeyID, e.userArn("dave"), allGrantOperations, nil))(t)
}

// testGrantConstraintScope: a grant's encryption context constraint does
// not apply to DescribeKey and RetireGrant, which take no context.
func testGrantConstraintScope(t *testing.T, e *Env) {
	k := e.rootOnlyKey(t, adminActions...)
	carol := e.user(t, "carol")
	g := must(e.createGrant(e.root(t), k.KeyID, e.userArn("carol"), []string{"DescribeKey", "RetireGrant", "Decrypt"},
		subsetOf(map[string]string{"app": "x"})))(t)
	must(e.KMS.DescribeKey(carol, &kmsclient.KeyIDInput{KeyID: k.KeyID}))(t)
	must(e.KMS.RetireGrant(carol, &kmsclient.RetireGrantInput{KeyID: k.KeyID, GrantID: g.GrantID}))(t)
	_, err := e.KMS.DescribeKey(carol, &kmsclient.KeyIDInput{KeyID: k.KeyID})
	wantErr(t, err, kmsclient.ErrAccessDenied)
}

// testGrantPrincipals: a grant to an account's root covers the account's
// principals, a grant to a role its sessions, and no one else.
func testGrantPrincipals(t *testing.T, e *Env) {
	k := e.rootOnlyKey(t, append(adminActions, "kms:Encrypt")...)
	plain := []byte("principals")
	blob := e.encrypt(t, k.KeyID, plain, nil)
	must(e.createGrant(e.root(t), k.KeyID, e.rootArn(), []string{"Decrypt"}, nil))(t)
	e.wantPlain(t, e.user(t, "carol"), blob, nil, plain)
	e.wantPlain(t, e.session(t, "app", "s1"), blob, nil, plain)
	_, err := e.decrypt(t, e.outsider(t, "eve"), blob, nil)
	wantErr(t, err, kmsclient.ErrAccessDenied)

	k2 := e.rootOnlyKey(t, append(adminActions, "kms:Encrypt")...)
	blob2 := e.encrypt(t, k2.KeyID, plain, nil)
	must(e.createGrant(e.root(t), k2.KeyID, "arn:aws:iam::"+e.Account+":role/app", []string{"Decrypt"}, nil))(t)
	e.wantPlain(t, e.session(t, "app", "s1"), blob2, nil, plain)
	for _, who := range []context.Context{e.session(t, "other", "s1"), e.user(t, "carol")} {
		_, err := e.decrypt(t, who, blob2, nil)
		wantErr(t, err, kmsclient.ErrAccessDenied)
	}
}

// testGrantsDoNotAllowListOrRevoke: ListGrants and RevokeGrant are allowed
// by the key policy only, whatever grants the caller holds.
func testGrantsDoNotAllowListOrRevoke(t *testing.T, e *Env) {
	k := e.rootOnlyKey(t, adminActions...)
	carol := e.user(t, "carol")
	g := must(e.createGrant(e.root(t), k.KeyID, e.userArn("carol"), allGrantOperations, nil))(t)
	must(e.KMS.DescribeKey(carol, &kmsclient.KeyIDInput{KeyID: k.KeyID}))(t)
	_, err := e.KMS.ListGrants(carol, &kmsclient.ListGrantsInput{KeyID: k.KeyID})
	wantErr(t, err, kmsclient.ErrAccessDenied)
	_, err = e.KMS.RevokeGrant(carol, &kmsclient.RevokeGrantInput{KeyID: k.KeyID, GrantID: g.GrantID})
	wantErr(t, err, kmsclient.ErrAccessDenied)
	if n := len(e.grants(t, k.KeyID)); n != 1 {
		t.Errorf("%d grants, want 1", n)
	}
}

// testRetireGrantRules: a grant can be retired by its retiring principal, by
// its grantee if it includes RetireGrant, by the root of the key's account,
// and by the account's principals that the key policy allows
// kms:RetireGrant; an explicit Deny stops any of them.
func testRetireGrantRules(t *testing.T, e *Env) {
	admin := allow(e.rootArn(), adminActions...)
	admin.Condition = map[string]any{"StringEquals": map[string]any{"aws:PrincipalArn": e.rootArn()}}
	k := e.createKey(t, nil)
	e.setPolicy(t, k.KeyID, policyOf(admin, allow(e.userArn("alice"), "kms:RetireGrant"),
		deny(e.userArn("mallory"), "kms:RetireGrant")))
	grant := func(ops []string, retiring string) *kmsclient.CreateGrantOutput {
		t.Helper()
		return must(e.KMS.CreateGrant(e.root(t), &kmsclient.CreateGrantInput{KeyID: k.KeyID,
			GranteePrincipal: e.userArn("carol"), RetiringPrincipal: retiring, Operations: ops}))(t)
	}
	retire := func(who context.Context, g *kmsclient.CreateGrantOutput) error {
		_, err := e.KMS.RetireGrant(who, &kmsclient.RetireGrantInput{KeyID: k.Arn, GrantID: g.GrantID})
		return err
	}
	decrypt := []string{"Decrypt"}

	g := grant(decrypt, e.userArn("dave"))
	for _, who := range []context.Context{e.user(t, "carol"), e.user(t, "bob"), e.outsider(t, "dave"), e.session(t, "dave", "s")} {
		wantErr(t, retire(who, g), kmsclient.ErrAccessDenied)
	}
	must(0, retire(e.user(t, "dave"), g))(t)

	g = grant([]string{"Decrypt", "RetireGrant"}, "")
	must(e.KMS.RetireGrant(e.user(t, "carol"), &kmsclient.RetireGrantInput{GrantToken: g.GrantToken}))(t)

	g = grant(decrypt, "")
	wantErr(t, retire(e.user(t, "bob"), g), kmsclient.ErrAccessDenied)
	must(0, retire(e.root(t), g))(t)

	g = grant(decrypt, "")
	must(0, retire(e.user(t, "alice"), g))(t)

	g = grant(decrypt, "arn:aws:iam::"+e.Account+":role/ops")
	wantErr(t, retire(e.session(t, "dev", "s"), g), kmsclient.ErrAccessDenied)
	must(0, retire(e.session(t, "ops", "s"), g))(t)

	g = grant(decrypt, "arn:aws:iam::"+outsiderAccount+":root")
	must(0, retire(e.outsider(t, "eve"), g))(t)

	g = grant(decrypt, e.userArn("mallory"))
	wantErr(t, retire(e.user(t, "mallory"), g), kmsclient.ErrAccessDenied)
	if n := len(e.grants(t, k.KeyID)); n != 1 {
		t.Errorf("%d grants left, want mallory's", n)
	}
}

package embedded_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/ebs-dev/ebs/kmsclient"
)

// condEnv is a KMS with one key whose policy allows the account (by root
// delegation) everything, another account some uses, and denies what one
// test case's Deny statement says.
type condEnv struct {
	t     *testing.T
	h     *harness
	key   string // key id
	other string // a second key, same policy
}

const outsiderAccount = "444455556666"

func newCondEnv(t *testing.T, deny string) *condEnv {
	t.Helper()
	h := newHarness(t, t.TempDir())
	e := &condEnv{t: t, h: h}
	acct := h.kms.Account()
	pol := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:root"},"Action":"kms:*","Resource":"*"},
		{"Effect":"Allow","Principal":{"AWS":"%s"},"Action":["kms:Encrypt","kms:Decrypt","kms:DescribeKey","kms:CreateGrant"],"Resource":"*"},
		{"Effect":"Deny","Principal":"*","Resource":"*",%s}]}`, acct, outsiderAccount, deny)
	for _, id := range []*string{&e.key, &e.other} {
		out, err := h.kms.CreateKey(e.as(e.root()), &kmsclient.CreateKeyInput{Policy: pol})
		if err != nil {
			t.Fatalf("CreateKey with the Deny %s: %v", deny, err)
		}
		*id = out.KeyMetadata.KeyID
	}
	return e
}

func (e *condEnv) as(c kmsclient.Caller) context.Context {
	return kmsclient.WithCaller(e.t.Context(), c)
}

func (e *condEnv) root() kmsclient.Caller { return kmsclient.RootCaller(e.h.kms.Account()) }

func (e *condEnv) user(name string) kmsclient.Caller {
	c := kmsclient.UserCaller(e.h.kms.Account(), name, "AIDA"+name)
	c.SourceIP, c.SecureTransport = "192.0.2.5", true
	return c
}

func (e *condEnv) outsider() kmsclient.Caller {
	return kmsclient.UserCaller(outsiderAccount, "eve", "AIDAEVE")
}

func (e *condEnv) session(role string) kmsclient.Caller {
	acct := e.h.kms.Account()
	return kmsclient.Caller{ARN: "arn:aws:sts::" + acct + ":assumed-role/" + role + "/s1", AccountID: acct,
		PrincipalID: "AROA" + role + ":s1", Type: "AssumedRole"}
}

// via is c calling through a service, as the volume layer calls through EC2.
func (e *condEnv) via(c kmsclient.Caller, service string) kmsclient.Caller {
	c.ViaService = service + "." + e.h.kms.Region() + ".amazonaws.com"
	return c
}

func (e *condEnv) from(c kmsclient.Caller, ip string, secure bool) kmsclient.Caller {
	c.SourceIP, c.SecureTransport = ip, secure
	return c
}

func (e *condEnv) encrypt(c kmsclient.Caller, encCtx map[string]string) error {
	return e.encryptWith(c, e.key, "", encCtx)
}

func (e *condEnv) encryptWith(c kmsclient.Caller, keyID, alg string, encCtx map[string]string) error {
	_, err := e.h.kms.Encrypt(e.as(c), &kmsclient.EncryptInput{KeyID: keyID, Plaintext: []byte("p"), EncryptionContext: encCtx, EncryptionAlgorithm: alg})
	return err
}

func (e *condEnv) decrypt(c kmsclient.Caller, encCtx map[string]string) error {
	out := must(e.h.kms.Encrypt(e.as(e.root()), &kmsclient.EncryptInput{KeyID: e.key, Plaintext: []byte("p"), EncryptionContext: encCtx}))(e.t)
	_, err := e.h.kms.Decrypt(e.as(c), &kmsclient.DecryptInput{CiphertextBlob: out.CiphertextBlob, EncryptionContext: encCtx})
	return err
}

func (e *condEnv) reEncrypt(to string) error {
	out := must(e.h.kms.Encrypt(e.as(e.root()), &kmsclient.EncryptInput{KeyID: e.key, Plaintext: []byte("p")}))(e.t)
	_, err := e.h.kms.ReEncrypt(e.as(e.root()), &kmsclient.ReEncryptInput{CiphertextBlob: out.CiphertextBlob, DestinationKeyID: to})
	return err
}

func (e *condEnv) describe(c kmsclient.Caller, keyID string) error {
	_, err := e.h.kms.DescribeKey(e.as(c), &kmsclient.KeyIDInput{KeyID: keyID})
	return err
}

func (e *condEnv) grant(c kmsclient.Caller, in kmsclient.CreateGrantInput) error {
	in.KeyID = e.key
	if in.GranteePrincipal == "" {
		in.GranteePrincipal = e.user("carol").ARN
	}
	if in.Operations == nil {
		in.Operations = []string{"Decrypt"}
	}
	_, err := e.h.kms.CreateGrant(e.as(c), &in)
	return err
}

func (e *condEnv) alias(name string) string {
	must(e.h.kms.CreateAlias(e.as(e.root()), &kmsclient.AliasInput{AliasName: name, TargetKeyID: e.key}))(e.t)
	return name
}

// conditionKeyCases: for each condition key, a Deny statement on it, calls
// it must refuse, and calls it must not (the key absent, or another value).
func conditionKeyCases() []struct {
	key         string
	deny        string
	bite, spare []func(e *condEnv) error
} {
	enc := func(encCtx map[string]string) func(e *condEnv) error {
		return func(e *condEnv) error { return e.encrypt(e.root(), encCtx) }
	}
	encAs := func(c func(e *condEnv) kmsclient.Caller) func(e *condEnv) error {
		return func(e *condEnv) error { return e.encrypt(c(e), nil) }
	}
	user := func(name string) func(e *condEnv) kmsclient.Caller {
		return func(e *condEnv) kmsclient.Caller { return e.user(name) }
	}
	root := func(e *condEnv) kmsclient.Caller { return e.root() }
	outsider := func(e *condEnv) kmsclient.Caller { return e.outsider() }
	viaEC2 := func(e *condEnv) kmsclient.Caller { return e.via(e.root(), "ec2") }
	grant := func(c func(e *condEnv) kmsclient.Caller, in kmsclient.CreateGrantInput) func(e *condEnv) error {
		return func(e *condEnv) error { return e.grant(c(e), in) }
	}
	fns := func(f ...func(e *condEnv) error) []func(e *condEnv) error { return f }
	sub := &kmsclient.GrantConstraints{EncryptionContextSubset: map[string]string{"app": "x"}}
	eq := &kmsclient.GrantConstraints{EncryptionContextEquals: map[string]string{"app": "x"}}
	return []struct {
		key         string
		deny        string
		bite, spare []func(e *condEnv) error
	}{
		{"aws:username", `"Action":"kms:Encrypt","Condition":{"StringEquals":{"aws:username":"alice"}}`,
			fns(encAs(user("alice"))), fns(encAs(user("bob")), encAs(root))},
		{"aws:userid", `"Action":"kms:Encrypt","Condition":{"StringEquals":{"aws:userid":["AIDAalice","AROAops:s1"]}}`,
			fns(encAs(user("alice")), encAs(func(e *condEnv) kmsclient.Caller { return e.session("ops") })), fns(encAs(user("bob")))},
		{"aws:PrincipalArn", `"Action":"kms:Encrypt","Condition":{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/ops"}}`,
			fns(encAs(func(e *condEnv) kmsclient.Caller { return e.session("ops") })),
			fns(encAs(func(e *condEnv) kmsclient.Caller { return e.session("dev") }), encAs(user("ops")))},
		{"aws:PrincipalAccount", `"Action":"kms:Encrypt","Condition":{"StringNotEquals":{"aws:PrincipalAccount":"` + outsiderAccount + `"}}`,
			fns(encAs(user("alice")), encAs(root)), fns(encAs(outsider))},
		{"aws:PrincipalType", `"Action":"kms:Encrypt","Condition":{"StringEquals":{"aws:PrincipalType":["User","AssumedRole"]}}`,
			fns(encAs(user("alice")), encAs(func(e *condEnv) kmsclient.Caller { return e.session("ops") })), fns(encAs(root))},
		{"aws:SourceIp", `"Action":"kms:Encrypt","Condition":{"IpAddress":{"aws:SourceIp":"198.51.100.0/24"}}`,
			fns(encAs(func(e *condEnv) kmsclient.Caller { return e.from(e.user("alice"), "198.51.100.7", false) })),
			fns(encAs(user("alice")), encAs(func(e *condEnv) kmsclient.Caller { return e.via(e.from(e.user("alice"), "198.51.100.7", false), "ec2") }))},
		{"aws:SecureTransport", `"Action":"kms:Encrypt","Condition":{"Bool":{"aws:SecureTransport":"false"}}`,
			fns(encAs(func(e *condEnv) kmsclient.Caller { return e.from(e.user("alice"), "192.0.2.5", false) })),
			fns(encAs(user("alice")), encAs(func(e *condEnv) kmsclient.Caller { return e.via(e.from(e.user("alice"), "", false), "ec2") }))},
		{"aws:RequestedRegion", `"Action":"kms:Encrypt","Condition":{"StringEquals":{"aws:RequestedRegion":"local"}}`,
			fns(enc(nil)), nil},
		{"aws:ViaAWSService", `"Action":"kms:Encrypt","Condition":{"Bool":{"aws:ViaAWSService":"true"}}`,
			fns(encAs(viaEC2)), fns(encAs(root))},
		{"aws:CalledVia", `"Action":"kms:Encrypt","Condition":{"ForAnyValue:StringEquals":{"aws:CalledVia":"dynamodb.amazonaws.com"},
			"StringEquals":{"aws:CalledViaFirst":"dynamodb.amazonaws.com","aws:CalledViaLast":"dynamodb.amazonaws.com"}}`,
			fns(encAs(func(e *condEnv) kmsclient.Caller { return e.via(e.root(), "dynamodb") })), fns(encAs(viaEC2), encAs(root))},
		{"aws:UserAgent", `"Action":"kms:Encrypt","Condition":{"StringLike":{"aws:UserAgent":"curl/*"}}`,
			fns(encAs(func(e *condEnv) kmsclient.Caller { c := e.user("alice"); c.UserAgent = "curl/8.0"; return c })),
			fns(encAs(user("alice")))},
		{"aws:ResourceTag", `"Action":"kms:Encrypt","Condition":{"StringEquals":{"aws:ResourceTag/env":"prod"}}`,
			fns(func(e *condEnv) error {
				must(e.h.kms.TagResource(e.as(e.root()), &kmsclient.TagResourceInput{KeyID: e.key, Tags: []kmsclient.Tag{{TagKey: "env", TagValue: "prod"}}}))(e.t)
				return e.encrypt(e.root(), nil)
			}), fns(func(e *condEnv) error { return e.encryptWith(e.root(), e.other, "", nil) })},
		{"aws:RequestTag", `"Action":"kms:TagResource","Condition":{"StringEquals":{"aws:RequestTag/env":"prod"}}`,
			fns(func(e *condEnv) error { return e.tag("env", "prod") }),
			fns(func(e *condEnv) error { return e.tag("env", "dev") }, func(e *condEnv) error { return e.tag("owner", "prod") })},
		{"aws:ResourceAccount", `"Action":"kms:Encrypt","Condition":{"StringEquals":{"aws:ResourceAccount":"000000000000"}}`,
			fns(enc(nil)), nil},
		{"aws:PrincipalIsAWSService", `"Action":"kms:Encrypt","Condition":{"Bool":{"aws:PrincipalIsAWSService":"false"}}`,
			fns(enc(nil), encAs(viaEC2)), nil},
		{"aws:TagKeys", `"Action":"kms:TagResource","Condition":{"ForAnyValue:StringEquals":{"aws:TagKeys":"owner"}}`,
			fns(func(e *condEnv) error {
				_, err := e.h.kms.TagResource(e.as(e.root()), &kmsclient.TagResourceInput{KeyID: e.key, Tags: []kmsclient.Tag{{TagKey: "env", TagValue: "x"}, {TagKey: "owner", TagValue: "y"}}})
				return err
			}), fns(func(e *condEnv) error {
				_, err := e.h.kms.TagResource(e.as(e.root()), &kmsclient.TagResourceInput{KeyID: e.key, Tags: []kmsclient.Tag{{TagKey: "env", TagValue: "x"}}})
				return err
			})},
		{"kms:CallerAccount", `"Action":"kms:Encrypt","Condition":{"StringNotEquals":{"kms:CallerAccount":"` + outsiderAccount + `"}}`,
			fns(encAs(user("alice"))), fns(encAs(outsider))},
		{"kms:ViaService", `"Action":"kms:Encrypt","Condition":{"StringLike":{"kms:ViaService":"ec2.*"}}`,
			fns(encAs(viaEC2)), fns(encAs(root))},
		{"kms:EncryptionContext:", `"Action":"kms:Encrypt","Condition":{"StringEquals":{"kms:EncryptionContext:app":"x"}}`,
			fns(enc(map[string]string{"app": "x"}), enc(map[string]string{"App": "x", "b": "1"})),
			fns(enc(map[string]string{"app": "y"}), enc(nil))},
		{"kms:EncryptionContext: on Decrypt", `"Action":"kms:Decrypt","Condition":{"StringEquals":{"kms:EncryptionContext:app":"x"}}`,
			fns(func(e *condEnv) error { return e.decrypt(e.user("alice"), map[string]string{"APP": "z", "app": "x"}) }),
			fns(func(e *condEnv) error { return e.decrypt(e.user("alice"), map[string]string{"app": "y"}) })},
		{"kms:EncryptionContextKeys", `"Action":"kms:Encrypt","Condition":{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":"secret"}}`,
			fns(enc(map[string]string{"a": "1", "secret": "1"})), fns(enc(map[string]string{"a": "1"}), enc(nil))},
		{"kms:GrantIsForAWSResource", `"Action":"kms:CreateGrant","Condition":{"Bool":{"kms:GrantIsForAWSResource":"false"}}`,
			fns(grant(root, kmsclient.CreateGrantInput{})), fns(grant(viaEC2, kmsclient.CreateGrantInput{}))},
		{"kms:GrantOperations", `"Action":"kms:CreateGrant","Condition":{"ForAnyValue:StringEquals":{"kms:GrantOperations":["Encrypt","CreateGrant"]}}`,
			fns(grant(root, kmsclient.CreateGrantInput{Operations: []string{"Decrypt", "CreateGrant"}})),
			fns(grant(root, kmsclient.CreateGrantInput{Operations: []string{"Decrypt", "DescribeKey"}}))},
		{"kms:GranteePrincipal", `"Action":"kms:CreateGrant","Condition":{"StringLike":{"kms:GranteePrincipal":"*:user/mallory"}}`,
			fns(grant(root, kmsclient.CreateGrantInput{GranteePrincipal: "arn:aws:iam::111122223333:user/mallory"})),
			fns(grant(root, kmsclient.CreateGrantInput{}))},
		{"kms:RetiringPrincipal", `"Action":"kms:CreateGrant","Condition":{"StringLike":{"kms:RetiringPrincipal":"*:user/mallory"}}`,
			fns(grant(root, kmsclient.CreateGrantInput{RetiringPrincipal: "arn:aws:iam::111122223333:user/mallory"})),
			fns(grant(root, kmsclient.CreateGrantInput{}), grant(root, kmsclient.CreateGrantInput{RetiringPrincipal: "arn:aws:iam::111122223333:user/dave"}))},
		{"kms:GrantConstraintType", `"Action":"kms:CreateGrant","Condition":{"StringEquals":{"kms:GrantConstraintType":"EncryptionContextSubset"}}`,
			fns(grant(root, kmsclient.CreateGrantInput{Constraints: sub})),
			fns(grant(root, kmsclient.CreateGrantInput{Constraints: eq}), grant(root, kmsclient.CreateGrantInput{}))},
		{"kms:EncryptionContext: of a grant", `"Action":"kms:CreateGrant","Condition":{"Null":{"kms:EncryptionContext:app":"true"}}`,
			fns(grant(root, kmsclient.CreateGrantInput{})), fns(grant(root, kmsclient.CreateGrantInput{Constraints: eq}))},
		{"kms:KeySpec", `"Action":"kms:DescribeKey","Condition":{"StringEquals":{"kms:KeySpec":"SYMMETRIC_DEFAULT","kms:CustomerMasterKeySpec":"SYMMETRIC_DEFAULT"}}`,
			fns(func(e *condEnv) error { return e.describe(e.root(), e.key) }), nil},
		{"kms:KeyUsage", `"Action":"kms:DescribeKey","Condition":{"StringEquals":{"kms:KeyUsage":"ENCRYPT_DECRYPT","kms:CustomerMasterKeyUsage":"ENCRYPT_DECRYPT"}}`,
			fns(func(e *condEnv) error { return e.describe(e.root(), e.key) }), nil},
		{"kms:KeyOrigin", `"Action":"kms:DescribeKey","Condition":{"StringEquals":{"kms:KeyOrigin":"AWS_KMS"}}`,
			fns(func(e *condEnv) error { return e.describe(e.root(), e.key) }), nil},
		{"kms:MultiRegion", `"Action":"kms:DescribeKey","Condition":{"Bool":{"kms:MultiRegion":"false"}}`,
			fns(func(e *condEnv) error { return e.describe(e.root(), e.key) }), nil},
		{"kms:RequestAlias", `"Action":["kms:DescribeKey","kms:Encrypt"],"Condition":{"StringEquals":{"kms:RequestAlias":"alias/blocked"}}`,
			fns(func(e *condEnv) error { return e.describe(e.root(), e.alias("alias/blocked")) },
				func(e *condEnv) error {
					e.alias("alias/blocked")
					return e.encryptWith(e.root(), fmt.Sprintf("arn:aws:kms:%s:%s:alias/blocked", e.h.kms.Region(), e.h.kms.Account()), "", nil)
				}),
			fns(func(e *condEnv) error { return e.describe(e.root(), e.key) },
				func(e *condEnv) error { return e.describe(e.root(), e.alias("alias/other")) })},
		{"kms:ResourceAliases", `"Action":"kms:Encrypt","Condition":{"ForAnyValue:StringLike":{"kms:ResourceAliases":"alias/blocked*"}}`,
			fns(func(e *condEnv) error { e.alias("alias/blocked-1"); return e.encrypt(e.root(), nil) }),
			fns(func(e *condEnv) error { return e.encrypt(e.root(), nil) },
				func(e *condEnv) error { e.alias("alias/fine"); return e.encrypt(e.root(), nil) })},
		{"kms:EncryptionAlgorithm", `"Action":"kms:*","Condition":{"StringEquals":{"kms:EncryptionAlgorithm":"SYMMETRIC_DEFAULT"}}`,
			fns(enc(nil), func(e *condEnv) error { return e.encryptWith(e.root(), e.key, "SYMMETRIC_DEFAULT", nil) }),
			fns(func(e *condEnv) error { return e.describe(e.root(), e.key) })},
		{"kms:ReEncryptOnSameKey", `"Action":"kms:ReEncrypt*","Condition":{"Bool":{"kms:ReEncryptOnSameKey":"true"}}`,
			fns(func(e *condEnv) error { return e.reEncrypt(e.key) }), fns(func(e *condEnv) error { return e.reEncrypt(e.other) })},
		{"kms:BypassPolicyLockoutSafetyCheck", `"Action":"kms:PutKeyPolicy","Condition":{"Bool":{"kms:BypassPolicyLockoutSafetyCheck":"true"}}`,
			fns(func(e *condEnv) error { return e.putPolicy(true) }), fns(func(e *condEnv) error { return e.putPolicy(false) })},
		{"kms:RotationPeriodInDays", `"Action":"kms:EnableKeyRotation","Condition":{"NumericLessThan":{"kms:RotationPeriodInDays":180}}`,
			fns(func(e *condEnv) error { return e.enableRotation(90) }),
			fns(func(e *condEnv) error { return e.enableRotation(0) }, func(e *condEnv) error { return e.enableRotation(180) })},
		{"kms:ScheduleKeyDeletionPendingWindowInDays", `"Action":"kms:ScheduleKeyDeletion","Condition":{"NumericLessThan":{"kms:ScheduleKeyDeletionPendingWindowInDays":30}}`,
			fns(func(e *condEnv) error { return e.scheduleDeletion(7) }), fns(func(e *condEnv) error { return e.scheduleDeletion(0) })},
	}
}

func (e *condEnv) tag(key, value string) error {
	_, err := e.h.kms.TagResource(e.as(e.root()), &kmsclient.TagResourceInput{KeyID: e.key, Tags: []kmsclient.Tag{{TagKey: key, TagValue: value}}})
	return err
}

func (e *condEnv) putPolicy(bypass bool) error {
	out := must(e.h.kms.GetKeyPolicy(e.as(e.root()), &kmsclient.GetKeyPolicyInput{KeyID: e.key}))(e.t)
	_, err := e.h.kms.PutKeyPolicy(e.as(e.root()), &kmsclient.PutKeyPolicyInput{KeyID: e.key, Policy: out.Policy, BypassPolicyLockoutSafetyCheck: bypass})
	return err
}

func (e *condEnv) enableRotation(days int) error {
	_, err := e.h.kms.EnableKeyRotation(e.as(e.root()), &kmsclient.EnableKeyRotationInput{KeyID: e.key, RotationPeriodInDays: days})
	return err
}

func (e *condEnv) scheduleDeletion(days int) error {
	_, err := e.h.kms.ScheduleKeyDeletion(e.as(e.root()), &kmsclient.ScheduleKeyDeletionInput{KeyID: e.key, PendingWindowInDays: days})
	return err
}

// TestConditionKeysDeny checks every condition key with a Deny that must
// bite, and calls it must spare where the key is absent or differs.
func TestConditionKeysDeny(t *testing.T) {
	for _, tc := range conditionKeyCases() {
		t.Run(tc.key, func(t *testing.T) {
			for i, bite := range tc.bite {
				e := newCondEnv(t, tc.deny)
				if err := bite(e); !errors.Is(err, kmsclient.ErrAccessDenied) {
					t.Errorf("call %d: got %v, want AccessDeniedException from %s", i, err, tc.deny)
				}
			}
			for i, spare := range tc.spare {
				e := newCondEnv(t, tc.deny)
				if err := spare(e); err != nil {
					t.Errorf("spared call %d: %v", i, err)
				}
			}
		})
	}
}

// TestConditionKeysTime checks aws:CurrentTime and aws:EpochTime against the
// KMS's clock.
func TestConditionKeysTime(t *testing.T) {
	later := time.Now().Add(time.Hour) // the harness's clock starts at the real time
	for _, cond := range []string{
		`{"DateGreaterThan":{"aws:CurrentTime":"` + later.UTC().Format(time.RFC3339) + `"}}`,
		`{"NumericGreaterThan":{"aws:EpochTime":` + strconv.FormatInt(later.Unix(), 10) + `}}`,
		`{"DateGreaterThan":{"aws:EpochTime":"` + later.UTC().Format(time.RFC3339) + `"}}`,
	} {
		t.Run(cond, func(t *testing.T) {
			e := newCondEnv(t, `"Action":"kms:Encrypt","Condition":`+cond)
			if err := e.encrypt(e.root(), nil); err != nil {
				t.Fatalf("before the time: %v", err)
			}
			e.h.clock.Advance(2 * time.Hour)
			if err := e.encrypt(e.root(), nil); !errors.Is(err, kmsclient.ErrAccessDenied) {
				t.Fatalf("after the time: got %v, want AccessDeniedException", err)
			}
		})
	}
}

// TestConditionKeysIfExistsAndNull checks the operators that test presence
// on a key that only some requests carry.
func TestConditionKeysIfExistsAndNull(t *testing.T) {
	x, y := map[string]string{"app": "x"}, map[string]string{"app": "y"}
	for _, tc := range []struct {
		cond      string
		bite, ok  []map[string]string
		nilBites  bool
		nilSpared bool
	}{
		{`{"StringNotEquals":{"kms:EncryptionContext:app":"x"}}`, []map[string]string{y}, []map[string]string{x}, true, false},
		{`{"StringNotEqualsIfExists":{"kms:EncryptionContext:app":"x"}}`, []map[string]string{y}, []map[string]string{x}, true, false},
		{`{"StringEqualsIfExists":{"kms:EncryptionContext:app":"y"}}`, []map[string]string{y}, []map[string]string{x}, true, false},
		{`{"StringEquals":{"kms:EncryptionContext:app":"y"}}`, []map[string]string{y}, []map[string]string{x}, false, true},
		{`{"Null":{"kms:EncryptionContext:app":"true"}}`, nil, []map[string]string{x, y}, true, false},
		{`{"Null":{"kms:EncryptionContext:app":"false"}}`, []map[string]string{x, y, {"app": ""}}, nil, false, true},
		{`{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":"app"}}`, []map[string]string{x}, []map[string]string{{"app": "x", "b": "1"}}, true, false},
		{`{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":"app"}}`, []map[string]string{x}, []map[string]string{{"b": "1"}}, false, true},
	} {
		t.Run(tc.cond, func(t *testing.T) {
			e := newCondEnv(t, `"Action":"kms:Encrypt","Condition":`+tc.cond)
			for _, c := range tc.bite {
				if err := e.encrypt(e.root(), c); !errors.Is(err, kmsclient.ErrAccessDenied) {
					t.Errorf("context %v: got %v, want AccessDeniedException", c, err)
				}
			}
			for _, c := range tc.ok {
				if err := e.encrypt(e.root(), c); err != nil {
					t.Errorf("context %v: %v", c, err)
				}
			}
			err := e.encrypt(e.root(), nil)
			if tc.nilBites != errors.Is(err, kmsclient.ErrAccessDenied) || tc.nilSpared != (err == nil) {
				t.Errorf("no context: got %v, want denied %v", err, tc.nilBites)
			}
		})
	}
}

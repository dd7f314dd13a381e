package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// These tests talk to `ebs serve --listen` with the unmodified aws-sdk-go-v2
// KMS client, signed with access keys made by `ebs iam create-access-key`.

// near reports whether t is within d of now.
func near(t *time.Time, want time.Time, d time.Duration) bool {
	return t != nil && t.Sub(want).Abs() <= d
}

func TestAWSSDKKMSKeyLifecycle(t *testing.T) {
	e := startAWSEndpoint(t)
	c := e.kms(e.newAccessKey("alice"))
	ctx := t.Context()
	now := time.Now()

	created, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("sdk key"),
		Tags: []types.Tag{{TagKey: aws.String("team"), TagValue: aws.String("storage")}}})
	if err != nil {
		t.Fatal(err)
	}
	md := created.KeyMetadata
	if md == nil || aws.ToString(md.Description) != "sdk key" || md.KeyState != types.KeyStateEnabled || !md.Enabled ||
		md.KeyUsage != types.KeyUsageTypeEncryptDecrypt || md.KeySpec != types.KeySpecSymmetricDefault ||
		md.Origin != types.OriginTypeAwsKms || md.KeyManager != types.KeyManagerTypeCustomer ||
		aws.ToString(md.AWSAccountId) != "000000000000" ||
		aws.ToString(md.Arn) != "arn:aws:kms:local:000000000000:key/"+aws.ToString(md.KeyId) ||
		!slices.Contains(md.EncryptionAlgorithms, types.EncryptionAlgorithmSpecSymmetricDefault) ||
		!near(md.CreationDate, now, 5*time.Minute) {
		t.Fatalf("KeyMetadata %+v", md)
	}
	id := aws.ToString(md.KeyId)

	desc, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})
	if err != nil || aws.ToString(desc.KeyMetadata.KeyId) != id || !desc.KeyMetadata.CreationDate.Equal(*md.CreationDate) {
		t.Fatalf("DescribeKey: %+v %v", desc, err)
	}
	if _, err := c.UpdateKeyDescription(ctx, &kms.UpdateKeyDescriptionInput{KeyId: aws.String(id), Description: aws.String("renamed")}); err != nil {
		t.Fatal(err)
	}
	if desc, _ := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)}); aws.ToString(desc.KeyMetadata.Description) != "renamed" {
		t.Fatalf("description not updated: %+v", desc.KeyMetadata)
	}

	second, _ := c.CreateKey(ctx, &kms.CreateKeyInput{})
	page, err := c.ListKeys(ctx, &kms.ListKeysInput{Limit: aws.Int32(1)})
	if err != nil || len(page.Keys) != 1 || !page.Truncated || page.NextMarker == nil {
		t.Fatalf("ListKeys page 1: %+v %v", page, err)
	}
	var all []string
	for p := kms.NewListKeysPaginator(c, &kms.ListKeysInput{Limit: aws.Int32(1)}); p.HasMorePages(); {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range out.Keys {
			all = append(all, aws.ToString(k.KeyId))
			if !strings.HasSuffix(aws.ToString(k.KeyArn), "key/"+aws.ToString(k.KeyId)) {
				t.Errorf("KeyArn %s", aws.ToString(k.KeyArn))
			}
		}
	}
	if !slices.Contains(all, id) || !slices.Contains(all, aws.ToString(second.KeyMetadata.KeyId)) {
		t.Fatalf("ListKeys: %v", all)
	}

	// Disable, enable.
	if _, err := c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x")})
	wantTyped[*types.DisabledException](t, err)
	if _, err := c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}

	// Tags.
	tags, err := c.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: aws.String(id)})
	if err != nil || len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].TagKey) != "team" || aws.ToString(tags.Tags[0].TagValue) != "storage" {
		t.Fatalf("ListResourceTags: %+v %v", tags, err)
	}
	if _, err := c.TagResource(ctx, &kms.TagResourceInput{KeyId: aws.String(id), Tags: []types.Tag{{TagKey: aws.String("env"), TagValue: aws.String("dev")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UntagResource(ctx, &kms.UntagResourceInput{KeyId: aws.String(id), TagKeys: []string{"team"}}); err != nil {
		t.Fatal(err)
	}
	if tags, _ := c.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: aws.String(id)}); len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].TagKey) != "env" {
		t.Fatalf("tags after tag/untag: %+v", tags.Tags)
	}

	// Schedule and cancel the deletion.
	sched, err := c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)})
	if err != nil || sched.KeyState != types.KeyStatePendingDeletion || aws.ToInt32(sched.PendingWindowInDays) != 7 ||
		!near(sched.DeletionDate, now.Add(7*24*time.Hour), 24*time.Hour) || !strings.HasSuffix(aws.ToString(sched.KeyId), id) {
		t.Fatalf("ScheduleKeyDeletion: %+v %v", sched, err)
	}
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x")})
	wantTyped[*types.KMSInvalidStateException](t, err)
	canceled, err := c.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: aws.String(id)})
	if err != nil || !strings.HasSuffix(aws.ToString(canceled.KeyId), id) {
		t.Fatalf("CancelKeyDeletion: %+v %v", canceled, err)
	}
	if desc, _ := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)}); desc.KeyMetadata.KeyState != types.KeyStateDisabled {
		t.Fatalf("after cancel: %s, want Disabled", desc.KeyMetadata.KeyState)
	}
	_, err = c.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: aws.String(id)})
	wantTyped[*types.KMSInvalidStateException](t, err)

	_, err = c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("1234abcd-12ab-34cd-56ef-1234567890ab")})
	nf := wantTyped[*types.NotFoundException](t, err)
	if !strings.Contains(nf.ErrorMessage(), "1234abcd-12ab-34cd-56ef-1234567890ab") {
		t.Errorf("NotFoundException message %q", nf.ErrorMessage())
	}
}

func TestAWSSDKKMSAliasesAndCrypto(t *testing.T) {
	e := startAWSEndpoint(t)
	c := e.kms(e.newAccessKey("alice"))
	ctx := t.Context()
	k1 := newSDKKey(t, c)
	k2 := newSDKKey(t, c)

	if _, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: aws.String(k1)}); err != nil {
		t.Fatal(err)
	}
	_, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: aws.String(k2)})
	wantTyped[*types.AlreadyExistsException](t, err)
	aliases, err := c.ListAliases(ctx, &kms.ListAliasesInput{KeyId: aws.String(k1)})
	if err != nil || len(aliases.Aliases) != 1 || aws.ToString(aliases.Aliases[0].AliasName) != "alias/app" ||
		aws.ToString(aliases.Aliases[0].TargetKeyId) != k1 || aws.ToString(aliases.Aliases[0].AliasArn) != "arn:aws:kms:local:000000000000:alias/app" ||
		aliases.Aliases[0].CreationDate == nil {
		t.Fatalf("ListAliases: %+v %v", aliases, err)
	}

	// Encrypt under the alias, decrypt without naming the key.
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/app"), Plaintext: []byte("hello sdk"),
		EncryptionContext: map[string]string{"app": "web"}})
	if err != nil || !strings.HasSuffix(aws.ToString(enc.KeyId), "key/"+k1) || len(enc.CiphertextBlob) == 0 ||
		enc.EncryptionAlgorithm != types.EncryptionAlgorithmSpecSymmetricDefault {
		t.Fatalf("Encrypt: %+v %v", enc, err)
	}
	dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"app": "web"}})
	if err != nil || string(dec.Plaintext) != "hello sdk" || !strings.HasSuffix(aws.ToString(dec.KeyId), "key/"+k1) {
		t.Fatalf("Decrypt: %+v %v", dec, err)
	}
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"app": "db"}})
	wantTyped[*types.InvalidCiphertextException](t, err)
	tampered := bytes.Clone(enc.CiphertextBlob)
	tampered[len(tampered)-1] ^= 1
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: tampered, EncryptionContext: map[string]string{"app": "web"}})
	wantTyped[*types.InvalidCiphertextException](t, err)
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, KeyId: aws.String(k2), EncryptionContext: map[string]string{"app": "web"}})
	wantTyped[*types.IncorrectKeyException](t, err)

	// The alias moves; ReEncrypt goes to the other key inside the KMS.
	if _, err := c.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: aws.String(k2)}); err != nil {
		t.Fatal(err)
	}
	re, err := c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: map[string]string{"app": "web"},
		DestinationKeyId: aws.String("alias/app")})
	if err != nil || !strings.HasSuffix(aws.ToString(re.KeyId), "key/"+k2) || !strings.HasSuffix(aws.ToString(re.SourceKeyId), "key/"+k1) ||
		re.SourceEncryptionAlgorithm != types.EncryptionAlgorithmSpecSymmetricDefault {
		t.Fatalf("ReEncrypt: %+v %v", re, err)
	}
	if dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: re.CiphertextBlob}); err != nil || string(dec.Plaintext) != "hello sdk" {
		t.Fatalf("Decrypt after ReEncrypt: %+v %v", dec, err)
	}
	if _, err := c.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String("alias/app")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/app")})
	wantTyped[*types.NotFoundException](t, err)

	// Data keys and random bytes.
	dk, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(k1), KeySpec: types.DataKeySpecAes256,
		EncryptionContext: map[string]string{"aws:ebs:id": "vol-0123456789abcdef0"}})
	if err != nil || len(dk.Plaintext) != 32 || len(dk.CiphertextBlob) == 0 {
		t.Fatalf("GenerateDataKey: %+v %v", dk, err)
	}
	back, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: dk.CiphertextBlob, EncryptionContext: map[string]string{"aws:ebs:id": "vol-0123456789abcdef0"}})
	if err != nil || !bytes.Equal(back.Plaintext, dk.Plaintext) {
		t.Fatalf("data key does not decrypt to its plaintext: %v", err)
	}
	nopt, err := c.GenerateDataKeyWithoutPlaintext(ctx, &kms.GenerateDataKeyWithoutPlaintextInput{KeyId: aws.String(k1), NumberOfBytes: aws.Int32(64)})
	if err != nil || len(nopt.CiphertextBlob) == 0 {
		t.Fatalf("GenerateDataKeyWithoutPlaintext: %+v %v", nopt, err)
	}
	if back, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: nopt.CiphertextBlob}); err != nil || len(back.Plaintext) != 64 {
		t.Fatalf("Decrypt of a 64-byte data key: %v", err)
	}
	rnd, err := c.GenerateRandom(ctx, &kms.GenerateRandomInput{NumberOfBytes: aws.Int32(48)})
	if err != nil || len(rnd.Plaintext) != 48 {
		t.Fatalf("GenerateRandom: %+v %v", rnd, err)
	}
}

func TestAWSSDKKMSRotationPoliciesGrants(t *testing.T) {
	e := startAWSEndpoint(t)
	alice := e.newAccessKey("alice")
	c := e.kms(alice)
	ctx := t.Context()
	id := newSDKKey(t, c)

	if _, err := c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: aws.String(id), RotationPeriodInDays: aws.Int32(90)}); err != nil {
		t.Fatal(err)
	}
	st, err := c.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: aws.String(id)})
	if err != nil || !st.KeyRotationEnabled || aws.ToInt32(st.RotationPeriodInDays) != 90 ||
		!near(st.NextRotationDate, time.Now().Add(90*24*time.Hour), 24*time.Hour) {
		t.Fatalf("GetKeyRotationStatus: %+v %v", st, err)
	}
	before, _ := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("old material")})
	rot, err := c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(id)})
	if err != nil || !strings.HasSuffix(aws.ToString(rot.KeyId), id) {
		t.Fatalf("RotateKeyOnDemand: %+v %v", rot, err)
	}
	rots, err := c.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: aws.String(id)})
	if err != nil || len(rots.Rotations) != 1 || rots.Rotations[0].RotationType != types.RotationTypeOnDemand ||
		!near(rots.Rotations[0].RotationDate, time.Now(), 5*time.Minute) {
		t.Fatalf("ListKeyRotations: %+v %v", rots, err)
	}
	if dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: before.CiphertextBlob}); err != nil || string(dec.Plaintext) != "old material" {
		t.Fatalf("Decrypt after rotation: %v", err)
	}
	if _, err := c.DisableKeyRotation(ctx, &kms.DisableKeyRotationInput{KeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	if st, _ := c.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: aws.String(id)}); st.KeyRotationEnabled {
		t.Fatal("rotation still enabled")
	}

	// Policies.
	names, err := c.ListKeyPolicies(ctx, &kms.ListKeyPoliciesInput{KeyId: aws.String(id)})
	if err != nil || !slices.Equal(names.PolicyNames, []string{"default"}) {
		t.Fatalf("ListKeyPolicies: %+v %v", names, err)
	}
	pol, err := c.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(id), PolicyName: aws.String("default")})
	if err != nil || !json.Valid([]byte(aws.ToString(pol.Policy))) || aws.ToString(pol.PolicyName) != "default" {
		t.Fatalf("GetKeyPolicy: %+v %v", pol, err)
	}
	policy := allowOnly("arn:aws:iam::000000000000:user/alice")
	if _, err := c.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(id), PolicyName: aws.String("default"), Policy: aws.String(policy)}); err != nil {
		t.Fatal(err)
	}
	if pol, _ := c.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(id)}); !strings.Contains(aws.ToString(pol.Policy), "user/alice") {
		t.Fatalf("policy not replaced: %s", aws.ToString(pol.Policy))
	}
	_, err = c.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(id), Policy: aws.String("{not a policy")})
	wantTyped[*types.MalformedPolicyDocumentException](t, err)

	// Grants: alice grants bob Decrypt; bob uses the grant; revoke and retire.
	bob := e.kms(e.newAccessKey("bob"))
	enc, _ := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("for bob")})
	_, err = bob.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	wantAPIError(t, err, "AccessDeniedException")
	g, err := c.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: aws.String(id), Name: aws.String("bob-decrypt"),
		GranteePrincipal: aws.String("arn:aws:iam::000000000000:user/bob"), RetiringPrincipal: aws.String("arn:aws:iam::000000000000:user/bob"),
		Operations: []types.GrantOperation{types.GrantOperationDecrypt}})
	if err != nil || aws.ToString(g.GrantId) == "" || aws.ToString(g.GrantToken) == "" {
		t.Fatalf("CreateGrant: %+v %v", g, err)
	}
	if dec, err := bob.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob}); err != nil || string(dec.Plaintext) != "for bob" {
		t.Fatalf("bob's Decrypt under the grant: %v", err)
	}
	grants, err := c.ListGrants(ctx, &kms.ListGrantsInput{KeyId: aws.String(id)})
	if err != nil || len(grants.Grants) != 1 || aws.ToString(grants.Grants[0].GrantId) != aws.ToString(g.GrantId) ||
		aws.ToString(grants.Grants[0].GranteePrincipal) != "arn:aws:iam::000000000000:user/bob" ||
		!slices.Equal(grants.Grants[0].Operations, []types.GrantOperation{types.GrantOperationDecrypt}) || grants.Grants[0].CreationDate == nil {
		t.Fatalf("ListGrants: %+v %v", grants, err)
	}
	if _, err := bob.RetireGrant(ctx, &kms.RetireGrantInput{GrantToken: g.GrantToken}); err != nil {
		t.Fatalf("RetireGrant: %v", err)
	}
	_, err = bob.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	wantAPIError(t, err, "AccessDeniedException")
	g2, _ := c.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: aws.String(id), GranteePrincipal: aws.String("arn:aws:iam::000000000000:user/bob"),
		Operations: []types.GrantOperation{types.GrantOperationEncrypt}})
	if _, err := c.RevokeGrant(ctx, &kms.RevokeGrantInput{KeyId: aws.String(id), GrantId: g2.GrantId}); err != nil {
		t.Fatalf("RevokeGrant: %v", err)
	}
	if grants, _ := c.ListGrants(ctx, &kms.ListGrantsInput{KeyId: aws.String(id)}); len(grants.Grants) != 0 {
		t.Fatalf("grants left: %+v", grants.Grants)
	}
}

// allowOnly is a key policy that allows everything to one principal only.
func allowOnly(arn string) string {
	return `{"Version":"2012-10-17","Statement":[{"Sid":"only","Effect":"Allow","Principal":{"AWS":"` + arn + `"},"Action":"kms:*","Resource":"*"}]}`
}

func newSDKKey(t *testing.T, c *kms.Client) string {
	t.Helper()
	out, err := c.CreateKey(t.Context(), &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.KeyMetadata.KeyId)
}

func TestAWSSDKKMSAuthAndAudit(t *testing.T) {
	e := startAWSEndpoint(t)
	aliceKey, bobKey := e.newAccessKey("alice"), e.newAccessKey("bob")
	alice, bob := e.kms(aliceKey), e.kms(bobKey)
	ctx := context.Background()

	// A wrong secret, and an unknown key id, are refused.
	wrong := aliceKey
	wrong.secret = strings.Repeat("A", 40)
	_, err := e.kms(wrong).ListKeys(ctx, &kms.ListKeysInput{})
	ae := wantAPIError(t, err, "InvalidSignatureException")
	if !strings.HasPrefix(ae.ErrorMessage(), "The request signature we calculated does not match the signature you provided.") {
		t.Errorf("message %q", ae.ErrorMessage())
	}
	unknown := accessKey{id: "AKIAIOSFODNN7EXAMPLE", secret: aliceKey.secret}
	_, err = e.kms(unknown).ListKeys(ctx, &kms.ListKeysInput{})
	wantAPIError(t, err, "UnrecognizedClientException")
	e.ok("iam", "update-access-key", "--user-name", "bob", "--access-key-id", bobKey.id, "--status", "Inactive")
	_, err = bob.ListKeys(ctx, &kms.ListKeysInput{})
	wantAPIError(t, err, "UnrecognizedClientException")
	e.ok("iam", "update-access-key", "--user-name", "bob", "--access-key-id", bobKey.id, "--status", "Active")

	// A key policy that names alice and not bob.
	out, err := alice.CreateKey(ctx, &kms.CreateKeyInput{Policy: aws.String(allowOnly("arn:aws:iam::000000000000:user/alice"))})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(out.KeyMetadata.KeyId)
	enc, err := alice.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("alice only")})
	if err != nil {
		t.Fatal(err)
	}
	if dec, err := alice.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob}); err != nil || string(dec.Plaintext) != "alice only" {
		t.Fatalf("alice's Decrypt: %v", err)
	}
	_, err = bob.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	ae = wantAPIError(t, err, "AccessDeniedException")
	if !strings.Contains(ae.ErrorMessage(), "arn:aws:iam::000000000000:user/bob") {
		t.Errorf("denial does not name bob: %q", ae.ErrorMessage())
	}

	// Both calls are in the audit trail, with their user and access key.
	ev := e.ok("cloudtrail", "lookup-events", "--event-name", "Decrypt", "--max-results", "2")
	events, _ := field(t, ev, "Events").([]any)
	if len(events) != 2 {
		t.Fatalf("%d Decrypt events: %v", len(events), ev)
	}
	for i, want := range []struct{ user, key, errorCode string }{{"bob", bobKey.id, "AccessDeniedException"}, {"alice", aliceKey.id, ""}} {
		summary := events[i].(map[string]any)
		rec := decodeJSON(t, summary["CloudTrailEvent"].(string))
		if summary["Username"] != want.user || str(t, rec, "userIdentity", "userName") != want.user ||
			str(t, rec, "userIdentity", "accessKeyId") != want.key || str(t, rec, "userIdentity", "type") != "IAMUser" ||
			str(t, rec, "userIdentity", "arn") != "arn:aws:iam::000000000000:user/"+want.user ||
			str(t, rec, "errorCode") != want.errorCode || str(t, rec, "sourceIPAddress") != "127.0.0.1" ||
			!strings.Contains(str(t, rec, "userAgent"), "aws-sdk-go-v2") {
			t.Errorf("event %d: %v\n%v", i, summary, rec)
		}
	}

	// The IAM listing shows the keys, without secrets.
	list := e.ok("iam", "list-access-keys", "--user-name", "alice")
	keys, _ := field(t, list, "AccessKeyMetadata").([]any)
	if len(keys) != 1 || keys[0].(map[string]any)["AccessKeyId"] != aliceKey.id || keys[0].(map[string]any)["SecretAccessKey"] != nil {
		t.Fatalf("list-access-keys: %v", list)
	}
	e.ok("iam", "delete-access-key", "--user-name", "alice", "--access-key-id", aliceKey.id)
	_, err = alice.ListKeys(ctx, &kms.ListKeysInput{})
	wantAPIError(t, err, "UnrecognizedClientException")
	e.fails("NoSuchEntity", "iam", "delete-access-key", "--user-name", "alice", "--access-key-id", aliceKey.id)
}

func TestAWSSDKIAMCLI(t *testing.T) {
	e := startAWSEndpoint(t)
	r := e.ebs("iam", "create-access-key", "--user-name", "carol")
	var out map[string]map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 0 {
		t.Fatalf("create-access-key: exit %d %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	k := out["AccessKey"]
	var keys []string
	for name := range k {
		keys = append(keys, name)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"AccessKeyId", "CreateDate", "SecretAccessKey", "Status", "UserName"}) ||
		k["UserName"] != "carol" || k["Status"] != "Active" {
		t.Fatalf("AccessKey %v", k)
	}
	if _, err := time.Parse(time.RFC3339, k["CreateDate"].(string)); err != nil {
		t.Errorf("CreateDate %v: %v", k["CreateDate"], err)
	}
	if s := k["SecretAccessKey"].(string); len(s) != 40 {
		t.Errorf("secret %q", s)
	}
	if _, err := base64.StdEncoding.DecodeString(k["SecretAccessKey"].(string)); err != nil {
		t.Errorf("the secret is not base64 characters: %v", err)
	}
	e.ok("iam", "create-access-key", "--user-name", "carol")
	e.fails("LimitExceeded", "iam", "create-access-key", "--user-name", "carol")
	e.fails("ValidationError", "iam", "create-access-key", "--user-name", "no spaces")
	e.fails("ValidationError", "iam", "update-access-key", "--user-name", "carol", "--access-key-id", k["AccessKeyId"].(string), "--status", "Off")
}

package e2e

import (
	"encoding/base64"
	"strings"
	"testing"
)

// newKey creates a customer managed key with an alias and returns its id.
func newKey(t *testing.T, d *daemon, alias string) string {
	t.Helper()
	id := str(t, d.ok("kms", "create-key", "--description", "e2e "+alias), "KeyMetadata", "KeyId")
	if id == "" {
		t.Fatal("create-key returned no KeyId")
	}
	if alias != "" {
		d.ok("kms", "create-alias", "--alias-name", alias, "--target-key-id", id)
	}
	return id
}

// encrypt seals plaintext and returns the path of the raw ciphertext blob.
func encrypt(t *testing.T, d *daemon, keyID, plaintext string, ctx ...string) string {
	t.Helper()
	args := []string{"kms", "encrypt", "--key-id", keyID, "--plaintext", "fileb://" + writeFile(t, "p", []byte(plaintext))}
	if len(ctx) > 0 {
		args = append(args, "--encryption-context", ctx[0])
	}
	blob, err := base64.StdEncoding.DecodeString(str(t, d.ok(args...), "CiphertextBlob"))
	if err != nil || len(blob) == 0 {
		t.Fatalf("encrypt: bad CiphertextBlob: %v", err)
	}
	return writeFile(t, "c", blob)
}

// decrypt opens a ciphertext file and returns the plaintext.
func decrypt(t *testing.T, d *daemon, blobPath string, extra ...string) string {
	t.Helper()
	out := d.ok(append([]string{"kms", "decrypt", "--ciphertext-blob", "fileb://" + blobPath}, extra...)...)
	p, err := base64.StdEncoding.DecodeString(str(t, out, "Plaintext"))
	if err != nil {
		t.Fatal(err)
	}
	return string(p)
}

func TestKeyAliasEncryptDecrypt(t *testing.T) {
	d := startDaemon(t, t.TempDir())
	id := newKey(t, d, "alias/app")
	arn := "arn:aws:kms:local:000000000000:key/" + id
	for _, ref := range []string{id, arn, "alias/app", "arn:aws:kms:local:000000000000:alias/app"} {
		if got := str(t, d.ok("kms", "describe-key", "--key-id", ref), "KeyMetadata", "Arn"); got != arn {
			t.Fatalf("describe-key %s: Arn %q, want %q", ref, got, arn)
		}
	}
	blob := encrypt(t, d, "alias/app", "attack at dawn", "purpose=e2e,team=storage")
	if got := decrypt(t, d, blob, "--encryption-context", `{"team":"storage","purpose":"e2e"}`); got != "attack at dawn" {
		t.Fatalf("decrypt = %q", got)
	}
	// The context is bound: missing, changed or extra pairs fail.
	d.fails("InvalidCiphertextException", "kms", "decrypt", "--ciphertext-blob", "fileb://"+blob)
	d.fails("InvalidCiphertextException", "kms", "decrypt", "--ciphertext-blob", "fileb://"+blob, "--encryption-context", "purpose=e2e,team=Storage")
	// A KeyId that names another key.
	other := newKey(t, d, "")
	d.fails("IncorrectKeyException", "kms", "decrypt", "--ciphertext-blob", "fileb://"+blob, "--encryption-context", "purpose=e2e,team=storage", "--key-id", other)
	d.fails("NotFoundException", "kms", "describe-key", "--key-id", "alias/missing")
	d.fails("InvalidAliasNameException", "kms", "create-alias", "--alias-name", "alias/aws/mine", "--target-key-id", id)
	d.fails("AlreadyExistsException", "kms", "create-alias", "--alias-name", "alias/app", "--target-key-id", other)

	// ReEncrypt to the other key; data keys of both kinds.
	re := d.ok("kms", "re-encrypt", "--ciphertext-blob", "fileb://"+blob, "--source-encryption-context", "purpose=e2e,team=storage",
		"--destination-key-id", other)
	if !strings.HasSuffix(str(t, re, "KeyId"), other) || !strings.HasSuffix(str(t, re, "SourceKeyId"), id) {
		t.Fatalf("re-encrypt = %v", re)
	}
	dk := d.ok("kms", "generate-data-key", "--key-id", "alias/app", "--key-spec", "AES_256")
	if p, _ := base64.StdEncoding.DecodeString(str(t, dk, "Plaintext")); len(p) != 32 {
		t.Fatalf("data key is %d bytes", len(p))
	}
	dk = d.ok("kms", "generate-data-key-without-plaintext", "--key-id", "alias/app", "--number-of-bytes", "64",
		"--encryption-context", "aws:ebs:id=vol-0123456789abcdef0")
	if _, ok := dk["Plaintext"]; ok {
		t.Fatal("generate-data-key-without-plaintext returned a Plaintext")
	}
	d.fails("ValidationException", "kms", "generate-data-key", "--key-id", "alias/app", "--number-of-bytes", "1025")
}

func TestDisableScheduleCancelAndDelete(t *testing.T) {
	d := startDaemon(t, t.TempDir())
	id := newKey(t, d, "alias/doomed")
	blob := encrypt(t, d, id, "keep me")

	d.ok("kms", "disable-key", "--key-id", id)
	d.fails("DisabledException", "kms", "encrypt", "--key-id", id, "--plaintext", "fileb://"+writeFile(t, "p", []byte("x")))
	d.fails("DisabledException", "kms", "decrypt", "--ciphertext-blob", "fileb://"+blob)
	d.ok("kms", "enable-key", "--key-id", id)
	if decrypt(t, d, blob) != "keep me" {
		t.Fatal("decrypt after enable")
	}

	d.fails("ValidationException", "kms", "schedule-key-deletion", "--key-id", id, "--pending-window-in-days", "6")
	out := d.ok("kms", "schedule-key-deletion", "--key-id", id, "--pending-window-in-days", "7")
	if str(t, out, "KeyState") != "PendingDeletion" || field(t, out, "PendingWindowInDays") != 7.0 || str(t, out, "DeletionDate") == "" {
		t.Fatalf("schedule-key-deletion = %v", out)
	}
	d.fails("KMSInvalidStateException", "kms", "decrypt", "--ciphertext-blob", "fileb://"+blob)
	d.fails("KMSInvalidStateException", "kms", "schedule-key-deletion", "--key-id", id)
	d.ok("kms", "cancel-key-deletion", "--key-id", id)
	if s := str(t, d.ok("kms", "describe-key", "--key-id", id), "KeyMetadata", "KeyState"); s != "Disabled" {
		t.Fatalf("after cancel: KeyState %s, want Disabled", s)
	}
	d.fails("KMSInvalidStateException", "kms", "cancel-key-deletion", "--key-id", id)

	// Schedule again and let the clock pass the date: the key and its alias are gone.
	d.ok("kms", "schedule-key-deletion", "--key-id", id, "--pending-window-in-days", "7")
	d.ok("debug", "advance-clock", "--days", "8")
	d.fails("NotFoundException", "kms", "describe-key", "--key-id", id)
	d.fails("NotFoundException", "kms", "describe-key", "--key-id", "alias/doomed")
	d.fails("AccessDeniedException", "kms", "decrypt", "--ciphertext-blob", "fileb://"+blob)
	ev := d.ok("cloudtrail", "lookup-events", "--event-name", "DeleteKey")
	if n := len(field(t, ev, "Events").([]any)); n != 1 {
		t.Fatalf("%d DeleteKey events, want 1", n)
	}
}

func TestRotationKeepsOldCiphertexts(t *testing.T) {
	d := startDaemon(t, t.TempDir())
	id := newKey(t, d, "alias/rot")
	blobs := []string{encrypt(t, d, id, "v1")}
	for i := 0; i < 2; i++ {
		d.ok("kms", "rotate-key-on-demand", "--key-id", id)
		blobs = append(blobs, encrypt(t, d, id, "after rotation"))
	}
	if decrypt(t, d, blobs[0]) != "v1" || decrypt(t, d, blobs[1]) != "after rotation" || decrypt(t, d, blobs[2]) != "after rotation" {
		t.Fatal("an old ciphertext no longer decrypts")
	}
	rot := field(t, d.ok("kms", "list-key-rotations", "--key-id", id), "Rotations").([]any)
	if len(rot) != 2 || rot[0].(map[string]any)["RotationType"] != "ON_DEMAND" || rot[1].(map[string]any)["RotationType"] != "ON_DEMAND" {
		t.Fatalf("list-key-rotations = %v", rot)
	}

	d.fails("ValidationException", "kms", "enable-key-rotation", "--key-id", id, "--rotation-period-in-days", "89")
	d.ok("kms", "enable-key-rotation", "--key-id", id, "--rotation-period-in-days", "90")
	st := d.ok("kms", "get-key-rotation-status", "--key-id", id)
	if field(t, st, "KeyRotationEnabled") != true || field(t, st, "RotationPeriodInDays") != 90.0 || str(t, st, "NextRotationDate") == "" {
		t.Fatalf("get-key-rotation-status = %v", st)
	}
	d.ok("debug", "advance-clock", "--days", "91")
	rot = field(t, d.ok("kms", "list-key-rotations", "--key-id", id), "Rotations").([]any)
	if len(rot) != 3 || rot[2].(map[string]any)["RotationType"] != "AUTOMATIC" {
		t.Fatalf("after 91 days: rotations = %v", rot)
	}
	if decrypt(t, d, blobs[0]) != "v1" {
		t.Fatal("the first ciphertext no longer decrypts after automatic rotation")
	}
}

func TestAWSManagedKey(t *testing.T) {
	d := startDaemon(t, t.TempDir())
	md := d.ok("kms", "describe-key", "--key-id", "alias/aws/ebs")
	id := str(t, md, "KeyMetadata", "KeyId")
	if str(t, md, "KeyMetadata", "KeyManager") != "AWS" || id == "" {
		t.Fatalf("alias/aws/ebs = %v", md)
	}
	if again := str(t, d.ok("kms", "describe-key", "--key-id", "alias/aws/ebs"), "KeyMetadata", "KeyId"); again != id {
		t.Fatal("alias/aws/ebs was made twice")
	}
	st := d.ok("kms", "get-key-rotation-status", "--key-id", id)
	if field(t, st, "KeyRotationEnabled") != true || field(t, st, "RotationPeriodInDays") != 365.0 {
		t.Fatalf("aws/ebs rotation = %v", st)
	}
	pol := writeFile(t, "p.json", []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:*","Resource":"*"}]}`))
	for _, args := range [][]string{
		{"kms", "disable-key", "--key-id", id},
		{"kms", "schedule-key-deletion", "--key-id", id},
		{"kms", "put-key-policy", "--key-id", id, "--policy", "file://" + pol},
		{"kms", "disable-key-rotation", "--key-id", id},
		// Direct use is refused: its policy admits only calls made through EBS.
		{"kms", "encrypt", "--key-id", "alias/aws/ebs", "--plaintext", "fileb://" + pol},
	} {
		d.fails("AccessDeniedException", args...)
	}
	if s := str(t, d.ok("kms", "describe-key", "--key-id", id), "KeyMetadata", "KeyState"); s != "Enabled" {
		t.Fatalf("aws/ebs state %s", s)
	}
}

func TestPersistsAcrossRestart(t *testing.T) {
	d := startDaemon(t, t.TempDir())
	id := newKey(t, d, "alias/keep")
	old := encrypt(t, d, "alias/keep", "before rotation", "k=v")
	d.ok("kms", "rotate-key-on-demand", "--key-id", id)
	pol := writeFile(t, "p.json", []byte(`{"Version":"2012-10-17","Statement":[{"Sid":"root","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"kms:*","Resource":"*"}]}`))
	d.ok("kms", "put-key-policy", "--key-id", id, "--policy", "file://"+pol)
	d.ok("kms", "enable-key-rotation", "--key-id", id)

	d.restart()
	if decrypt(t, d, old, "--encryption-context", "k=v") != "before rotation" {
		t.Fatal("old ciphertext after restart")
	}
	if got := str(t, d.ok("kms", "describe-key", "--key-id", "alias/keep"), "KeyMetadata", "KeyId"); got != id {
		t.Fatal("alias lost across restart")
	}
	if rot := field(t, d.ok("kms", "list-key-rotations", "--key-id", id), "Rotations").([]any); len(rot) != 1 {
		t.Fatalf("rotations after restart: %v", rot)
	}
	if !strings.Contains(str(t, d.ok("kms", "get-key-policy", "--key-id", id), "Policy"), `"Sid":"root"`) {
		t.Fatal("policy lost across restart")
	}
	if field(t, d.ok("kms", "get-key-rotation-status", "--key-id", id), "KeyRotationEnabled") != true {
		t.Fatal("rotation setting lost across restart")
	}
	n := len(field(t, d.ok("cloudtrail", "lookup-events", "--max-results", "50"), "Events").([]any))
	if n < 8 {
		t.Fatalf("only %d audit events after restart", n)
	}
}

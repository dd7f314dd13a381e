package embedded_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ebs-dev/ebs/kmsclient"
	"github.com/ebs-dev/ebs/kmsclient/audit"
	"github.com/ebs-dev/ebs/kmsclient/embedded"
)

func TestRootKeyCreated0600(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "kms")
	h := newHarness(t, dir)
	path := filepath.Join(dir, "root.key")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || fi.Size() != 32 {
		t.Errorf("root.key: mode %v, %d bytes; want 0600 and 32", fi.Mode().Perm(), fi.Size())
	}
	first, _ := os.ReadFile(path)
	h.reopen(t)
	if again, _ := os.ReadFile(path); string(again) != string(first) {
		t.Error("reopening replaced the root key")
	}
}

func TestRootKeyFileMustExistWhenNamed(t *testing.T) {
	dir := t.TempDir()
	trail := openTrail(t, dir)
	_, err := embedded.Open(embedded.Options{Dir: dir, Trail: trail, SweepInterval: -1, RootKeyFile: filepath.Join(dir, "elsewhere.key")})
	if err == nil {
		t.Fatal("Open created a root key file it was told to read")
	}
	writeFile(t, filepath.Join(dir, "short.key"), randomBytes(t, 31))
	_, err = embedded.Open(embedded.Options{Dir: dir, Trail: trail, SweepInterval: -1, RootKeyFile: filepath.Join(dir, "short.key")})
	if err == nil {
		t.Fatal("Open accepted a 31-byte root key")
	}
}

func openTrail(t testing.TB, dir string) *audit.Trail {
	t.Helper()
	trail, err := audit.Open(filepath.Join(dir, "audit", "kms.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { trail.Close() })
	return trail
}

// TestWrongRootKey replaces the root key with other random bytes: every
// call that needs a key's material fails with an internal error, and none
// panics; metadata calls still work.
func TestWrongRootKey(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, dir)
	ctx := rootCtx(t, h)
	k := must(h.kms.CreateKey(ctx, &kmsclient.CreateKeyInput{}))(t).KeyMetadata
	must(h.kms.RotateKeyOnDemand(ctx, &kmsclient.KeyIDInput{KeyID: k.KeyID}))(t)
	encCtx := map[string]string{"a": "b"}
	blob := must(h.kms.Encrypt(ctx, &kmsclient.EncryptInput{KeyID: k.KeyID, Plaintext: []byte("x"), EncryptionContext: encCtx}))(t).CiphertextBlob
	dk := must(h.kms.GenerateDataKeyWithoutPlaintext(ctx, &kmsclient.GenerateDataKeyInput{KeyID: k.KeyID, NumberOfBytes: 64}))(t).CiphertextBlob
	h.close(t)
	writeFile(t, filepath.Join(dir, "root.key"), randomBytes(t, 32))
	h.open(t)

	calls := map[string]func() error{
		"Decrypt": func() error {
			_, err := h.kms.Decrypt(ctx, &kmsclient.DecryptInput{CiphertextBlob: blob, EncryptionContext: encCtx})
			return err
		},
		"Decrypt data key": func() error {
			_, err := h.kms.Decrypt(ctx, &kmsclient.DecryptInput{CiphertextBlob: dk})
			return err
		},
		"ReEncrypt": func() error {
			_, err := h.kms.ReEncrypt(ctx, &kmsclient.ReEncryptInput{CiphertextBlob: dk, DestinationKeyID: k.KeyID})
			return err
		},
		"Encrypt": func() error {
			_, err := h.kms.Encrypt(ctx, &kmsclient.EncryptInput{KeyID: k.KeyID, Plaintext: []byte("x")})
			return err
		},
		"GenerateDataKey": func() error {
			_, err := h.kms.GenerateDataKey(ctx, &kmsclient.GenerateDataKeyInput{KeyID: k.KeyID, NumberOfBytes: 64})
			return err
		},
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, kmsclient.ErrInternal) {
			t.Errorf("%s with the wrong root key: %v, want an internal error", name, err)
		}
	}
	if m := must(h.kms.DescribeKey(ctx, &kmsclient.KeyIDInput{KeyID: k.KeyID}))(t).KeyMetadata; m.KeyState != "Enabled" {
		t.Errorf("DescribeKey: %+v", m)
	}
	// Keys made under the new root key work.
	fresh := must(h.kms.CreateKey(ctx, &kmsclient.CreateKeyInput{}))(t).KeyMetadata
	b := must(h.kms.Encrypt(ctx, &kmsclient.EncryptInput{KeyID: fresh.KeyID, Plaintext: []byte("y")}))(t).CiphertextBlob
	must(h.kms.Decrypt(ctx, &kmsclient.DecryptInput{CiphertextBlob: b}))(t)
}

package embedded_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ebs-dev/ebs/kmsclient"
)

// TestNoSecretOnDisk checks that no plaintext, data key or CMK material is
// written anywhere under the KMS's directory (badger's files, the audit
// trail), in the clear or encoded.
func TestNoSecretOnDisk(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, dir)
	ctx := rootCtx(t, h)
	var secrets [][]byte
	var keyIDs []string
	for i := range 3 {
		k := must(h.kms.CreateKey(ctx, &kmsclient.CreateKeyInput{Description: "leak"}))(t).KeyMetadata
		keyIDs = append(keyIDs, k.KeyID)
		if i == 0 {
			must(h.kms.EnableKeyRotation(ctx, &kmsclient.EnableKeyRotationInput{KeyID: k.KeyID, RotationPeriodInDays: 90}))(t)
		}
		if i == 1 {
			for range 2 {
				must(h.kms.RotateKeyOnDemand(ctx, &kmsclient.KeyIDInput{KeyID: k.KeyID}))(t)
			}
		}
	}
	h.advance(t, 91*24*time.Hour) // key 0 rotates automatically
	encCtx := map[string]string{"aws:ebs:id": "vol-leak"}
	for _, id := range keyIDs {
		for _, n := range []int{32, 64, 1024} {
			dk := must(h.kms.GenerateDataKey(ctx, &kmsclient.GenerateDataKeyInput{KeyID: id, NumberOfBytes: n, EncryptionContext: encCtx}))(t)
			secrets = append(secrets, dk.Plaintext)
		}
		wp := must(h.kms.GenerateDataKeyWithoutPlaintext(ctx, &kmsclient.GenerateDataKeyInput{KeyID: id, NumberOfBytes: 64}))(t)
		dec := must(h.kms.Decrypt(ctx, &kmsclient.DecryptInput{CiphertextBlob: wp.CiphertextBlob}))(t)
		secrets = append(secrets, dec.Plaintext)

		plain := append([]byte("LEAK-CANARY-"), randomBytes(t, 48)...)
		secrets = append(secrets, plain)
		blob := must(h.kms.Encrypt(ctx, &kmsclient.EncryptInput{KeyID: id, Plaintext: plain, EncryptionContext: encCtx}))(t).CiphertextBlob
		must(h.kms.ReEncrypt(ctx, &kmsclient.ReEncryptInput{CiphertextBlob: blob, SourceEncryptionContext: encCtx, DestinationKeyID: keyIDs[0]}))(t)
		rnd := must(h.kms.GenerateRandom(ctx, &kmsclient.GenerateRandomInput{NumberOfBytes: 32}))(t)
		secrets = append(secrets, rnd.Plaintext)
	}
	materials := 0
	for _, id := range keyIDs {
		m, err := h.kms.MaterialsForTest(id)
		if err != nil {
			t.Fatal(err)
		}
		materials += len(m)
		secrets = append(secrets, m...)
	}
	if materials != 3+2+1 { // one each, 2 on-demand rotations and 1 automatic
		t.Fatalf("%d materials, want 6", materials)
	}
	h.close(t)
	if err := h.trail.Close(); err != nil {
		t.Fatal(err)
	}

	// Positive control: the search finds a secret planted in the clear and
	// one planted inside a larger base64 string.
	planted := randomBytes(t, 32)
	if err := os.MkdirAll(filepath.Join(dir, "control", "nested"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "control", "nested", "raw.bin"), append(append([]byte("prefix"), planted...), "suffix"...))
	writeFile(t, filepath.Join(dir, "control", "b64.json"), []byte(`{"v":"`+base64.StdEncoding.EncodeToString(append([]byte{7}, planted...))+`"}`))
	hits := searchDir(t, dir, [][]byte{planted})
	if len(hits) != 2 {
		t.Fatalf("the planted secret was found in %v, want control/nested/raw.bin and control/b64.json", hits)
	}

	files := searchDir(t, dir, nil)
	if len(files) < 4 {
		t.Fatalf("only %d files under %s: the search is not looking at the store", len(files), dir)
	}
	if hits := searchDir(t, dir, secrets); len(hits) != 0 {
		t.Errorf("secrets found on disk in %v", hits)
	}
}

// searchDir returns the files under dir (relative names) that contain any
// encoding of any secret; with no secrets, every regular file.
func searchDir(t *testing.T, dir string, secrets [][]byte) []string {
	t.Helper()
	var needles [][]byte
	for _, s := range secrets {
		needles = append(needles, encodings(s)...)
	}
	var hits []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if secrets == nil || containsAny(data, needles) {
			hits = append(hits, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

func containsAny(data []byte, needles [][]byte) bool {
	for _, n := range needles {
		if bytes.Contains(data, n) {
			return true
		}
	}
	return false
}

// encodings returns the forms in which secret could appear in a file: raw,
// hex, and the base64 (standard and URL alphabets) of secret at each of the
// three byte alignments inside a longer encoded string. Secrets shorter than
// 16 bytes are too short to search for.
func encodings(secret []byte) [][]byte {
	if len(secret) < 16 {
		return nil
	}
	out := [][]byte{secret, []byte(hex.EncodeToString(secret)), bytes.ToUpper([]byte(hex.EncodeToString(secret)))}
	for shift := range 3 {
		padded := append(make([]byte, shift), secret...)
		// Groups of 3 bytes that lie wholly inside secret encode to 4
		// characters that do not depend on what surrounds it.
		first, last := (shift+2)/3, len(padded)/3
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
			s := enc.EncodeToString(padded)
			out = append(out, []byte(s[first*4:last*4]))
		}
	}
	return out
}

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

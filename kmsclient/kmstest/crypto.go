package kmstest

import (
	"bytes"
	"testing"

	"github.com/ebs-dev/ebs/kmsclient"
)

func testEncryptDecrypt(t *testing.T, e *Env) {
	k, other := e.createKey(t, nil), e.createKey(t, nil)
	e.createAlias(t, "alias/suite-crypto", k.KeyID)
	plain := []byte("the quick brown fox")
	ids := []string{k.KeyID, k.Arn, "alias/suite-crypto", e.aliasArn("alias/suite-crypto")}
	var blobs [][]byte
	for _, id := range ids {
		out := must(e.KMS.Encrypt(e.root(t), &kmsclient.EncryptInput{KeyID: id, Plaintext: plain}))(t)
		if out.KeyID != k.Arn || out.EncryptionAlgorithm != "SYMMETRIC_DEFAULT" {
			t.Errorf("Encrypt(%s): KeyId %q EncryptionAlgorithm %q", id, out.KeyID, out.EncryptionAlgorithm)
		}
		if bytes.Contains(out.CiphertextBlob, plain) {
			t.Error("the ciphertext blob contains the plaintext")
		}
		blobs = append(blobs, out.CiphertextBlob)
	}
	if bytes.Equal(blobs[0], blobs[1]) {
		t.Error("two encryptions of one plaintext gave the same blob")
	}
	for _, blob := range blobs {
		out := e.wantPlain(t, e.root(t), blob, nil, plain)
		if out.KeyID != k.Arn || out.EncryptionAlgorithm != "SYMMETRIC_DEFAULT" || out.KeyMaterialID == "" {
			t.Errorf("Decrypt: KeyId %q EncryptionAlgorithm %q KeyMaterialId %q", out.KeyID, out.EncryptionAlgorithm, out.KeyMaterialID)
		}
		for _, id := range ids {
			out := must(e.KMS.Decrypt(e.root(t), &kmsclient.DecryptInput{CiphertextBlob: blob, KeyID: id, EncryptionAlgorithm: "SYMMETRIC_DEFAULT"}))(t)
			if !bytes.Equal(out.Plaintext, plain) {
				t.Errorf("Decrypt with KeyId %s: wrong plaintext", id)
			}
		}
	}

	for _, id := range []string{other.KeyID, other.Arn} {
		_, err := e.KMS.Decrypt(e.root(t), &kmsclient.DecryptInput{CiphertextBlob: blobs[0], KeyID: id})
		wantErr(t, err, kmsclient.ErrIncorrectKey)
	}
	_, err := e.KMS.Encrypt(e.root(t), &kmsclient.EncryptInput{KeyID: k.KeyID, Plaintext: plain, EncryptionAlgorithm: "RSAES_OAEP_SHA_256"})
	wantErr(t, err, kmsclient.ErrInvalidKeyUsage)
}

func testEncryptionContext(t *testing.T, e *Env) {
	k := e.createKey(t, nil)
	encCtx := map[string]string{"Purpose": "backup", "aws:ebs:id": "vol-0123456789abcdef0"}
	plain := []byte("bound to a context")
	blob := e.encrypt(t, k.KeyID, plain, encCtx)
	e.wantPlain(t, e.root(t), blob, map[string]string{"aws:ebs:id": "vol-0123456789abcdef0", "Purpose": "backup"}, plain)

	mismatches := map[string]map[string]string{
		"missing":       nil,
		"empty":         {},
		"subset":        {"Purpose": "backup"},
		"extra pair":    {"Purpose": "backup", "aws:ebs:id": "vol-0123456789abcdef0", "x": "y"},
		"changed value": {"Purpose": "restore", "aws:ebs:id": "vol-0123456789abcdef0"},
		"key case":      {"purpose": "backup", "aws:ebs:id": "vol-0123456789abcdef0"},
		"value case":    {"Purpose": "Backup", "aws:ebs:id": "vol-0123456789abcdef0"},
		"swapped":       {"Purpose": "vol-0123456789abcdef0", "aws:ebs:id": "backup"},
	}
	for name, c := range mismatches {
		_, err := e.decrypt(t, e.root(t), blob, c)
		if err == nil {
			t.Errorf("%s context: Decrypt succeeded", name)
			continue
		}
		wantErr(t, err, kmsclient.ErrInvalidCiphertext)
	}

	// No context at encryption: Decrypt must send none (an empty map is none).
	bare := e.encrypt(t, k.KeyID, plain, nil)
	e.wantPlain(t, e.root(t), bare, map[string]string{}, plain)
	_, err := e.decrypt(t, e.root(t), bare, map[string]string{"Purpose": "backup"})
	wantErr(t, err, kmsclient.ErrInvalidCiphertext)
}

func testTamperedCiphertext(t *testing.T, e *Env) {
	k := e.createKey(t, nil)
	blob := e.encrypt(t, k.KeyID, bytes.Repeat([]byte("p"), 32), map[string]string{"a": "b"})
	tampered := map[string][]byte{
		"last byte flipped": flip(blob, len(blob)-1),
		"tag byte flipped":  flip(blob, len(blob)-17),
		"truncated":         blob[:len(blob)-1],
		"extended":          append(bytes.Clone(blob), 0),
		"garbage":           bytes.Repeat([]byte("x"), 100),
		"too short":         blob[:8],
	}
	for name, b := range tampered {
		_, err := e.decrypt(t, e.root(t), b, map[string]string{"a": "b"})
		if err == nil {
			t.Errorf("%s: Decrypt succeeded", name)
			continue
		}
		wantErr(t, err, kmsclient.ErrInvalidCiphertext)
	}
	_, err := e.decrypt(t, e.root(t), nil, nil)
	wantErr(t, err, kmsclient.ErrValidation)
	_, err = e.KMS.ReEncrypt(e.root(t), &kmsclient.ReEncryptInput{CiphertextBlob: flip(blob, len(blob)-1), SourceEncryptionContext: map[string]string{"a": "b"}, DestinationKeyID: k.KeyID})
	wantErr(t, err, kmsclient.ErrInvalidCiphertext)
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x01
	return c
}

func testPlaintextSize(t *testing.T, e *Env) {
	k := e.createKey(t, nil)
	for _, n := range []int{1, 4096} {
		plain := bytes.Repeat([]byte{byte(n)}, n)
		e.wantPlain(t, e.root(t), e.encrypt(t, k.KeyID, plain, nil), nil, plain)
	}
	for _, n := range []int{0, 4097} {
		_, err := e.KMS.Encrypt(e.root(t), &kmsclient.EncryptInput{KeyID: k.KeyID, Plaintext: make([]byte, n)})
		wantErr(t, err, kmsclient.ErrValidation)
	}
}

func testGenerateDataKey(t *testing.T, e *Env) {
	k := e.createKey(t, nil)
	encCtx := map[string]string{"aws:ebs:id": "vol-1"}
	cases := []struct {
		in   kmsclient.GenerateDataKeyInput
		want int
	}{
		{kmsclient.GenerateDataKeyInput{NumberOfBytes: 1}, 1},
		{kmsclient.GenerateDataKeyInput{NumberOfBytes: 64}, 64},
		{kmsclient.GenerateDataKeyInput{NumberOfBytes: 1024}, 1024},
		{kmsclient.GenerateDataKeyInput{KeySpec: "AES_128"}, 16},
		{kmsclient.GenerateDataKeyInput{KeySpec: "AES_256"}, 32},
	}
	seen := map[string]bool{}
	for _, c := range cases {
		c.in.KeyID, c.in.EncryptionContext = k.KeyID, encCtx
		out := must(e.KMS.GenerateDataKey(e.root(t), &c.in))(t)
		if len(out.Plaintext) != c.want {
			t.Errorf("%+v: %d bytes of plaintext, want %d", c.in, len(out.Plaintext), c.want)
		}
		if out.KeyID != k.Arn || out.KeyMaterialID == "" || len(out.CiphertextBlob) == 0 {
			t.Errorf("%+v: KeyId %q KeyMaterialId %q, %d-byte blob", c.in, out.KeyID, out.KeyMaterialID, len(out.CiphertextBlob))
		}
		if c.want >= 16 {
			if seen[string(out.Plaintext)] {
				t.Error("GenerateDataKey returned the same data key twice")
			}
			seen[string(out.Plaintext)] = true
		}
		dec := e.wantPlain(t, e.root(t), out.CiphertextBlob, encCtx, out.Plaintext)
		if dec.KeyMaterialID != out.KeyMaterialID {
			t.Errorf("Decrypt KeyMaterialId %q, GenerateDataKey said %q", dec.KeyMaterialID, out.KeyMaterialID)
		}
		_, err := e.decrypt(t, e.root(t), out.CiphertextBlob, nil)
		wantErr(t, err, kmsclient.ErrInvalidCiphertext)
	}
}

func testGenerateDataKeyValidation(t *testing.T, e *Env) {
	k := e.createKey(t, nil)
	bad := []kmsclient.GenerateDataKeyInput{
		{},                                      // neither
		{NumberOfBytes: 32, KeySpec: "AES_256"}, // both
		{NumberOfBytes: 1025},
		{NumberOfBytes: -1},
		{KeySpec: "AES_512"},
	}
	for _, in := range bad {
		in.KeyID = k.KeyID
		_, err := e.KMS.GenerateDataKey(e.root(t), &in)
		wantErr(t, err, kmsclient.ErrValidation)
		_, err = e.KMS.GenerateDataKeyWithoutPlaintext(e.root(t), &in)
		wantErr(t, err, kmsclient.ErrValidation)
	}
}

func testGenerateDataKeyWithoutPlaintext(t *testing.T, e *Env) {
	k := e.createKey(t, nil)
	encCtx := map[string]string{"aws:ebs:id": "snap-1"}
	for _, c := range []struct {
		in   kmsclient.GenerateDataKeyInput
		want int
	}{
		{kmsclient.GenerateDataKeyInput{NumberOfBytes: 64}, 64},
		{kmsclient.GenerateDataKeyInput{KeySpec: "AES_256"}, 32},
	} {
		c.in.KeyID, c.in.EncryptionContext = "alias/suite-nope", encCtx
		_, err := e.KMS.GenerateDataKeyWithoutPlaintext(e.root(t), &c.in)
		wantErr(t, err, kmsclient.ErrNotFound)
		c.in.KeyID = k.Arn
		out := must(e.KMS.GenerateDataKeyWithoutPlaintext(e.root(t), &c.in))(t)
		if len(out.Plaintext) != 0 {
			t.Errorf("GenerateDataKeyWithoutPlaintext returned %d bytes of plaintext", len(out.Plaintext))
		}
		if out.KeyID != k.Arn || out.KeyMaterialID == "" {
			t.Errorf("KeyId %q KeyMaterialId %q", out.KeyID, out.KeyMaterialID)
		}
		dec := must(e.decrypt(t, e.root(t), out.CiphertextBlob, encCtx))(t)
		if len(dec.Plaintext) != c.want {
			t.Errorf("the data key is %d bytes, want %d", len(dec.Plaintext), c.want)
		}
	}
}

func testGenerateRandom(t *testing.T, e *Env) {
	a := must(e.KMS.GenerateRandom(e.root(t), &kmsclient.GenerateRandomInput{NumberOfBytes: 32}))(t)
	b := must(e.KMS.GenerateRandom(e.root(t), &kmsclient.GenerateRandomInput{NumberOfBytes: 32}))(t)
	if len(a.Plaintext) != 32 || bytes.Equal(a.Plaintext, b.Plaintext) {
		t.Errorf("GenerateRandom: %x then %x", a.Plaintext, b.Plaintext)
	}
	for _, n := range []int{0, 1025} {
		_, err := e.KMS.GenerateRandom(e.root(t), &kmsclient.GenerateRandomInput{NumberOfBytes: n})
		wantErr(t, err, kmsclient.ErrValidation)
	}
}

func testReEncrypt(t *testing.T, e *Env) {
	a, b := e.createKey(t, nil), e.createKey(t, nil)
	plain := []byte("moved between keys")
	ctx1, ctx2, ctx3 := map[string]string{"v": "1"}, map[string]string{"v": "2"}, map[string]string{"v": "3"}
	old := e.encrypt(t, a.KeyID, plain, ctx1)

	out := must(e.KMS.ReEncrypt(e.root(t), &kmsclient.ReEncryptInput{
		CiphertextBlob: old, SourceEncryptionContext: ctx1, DestinationKeyID: b.KeyID, DestinationEncryptionContext: ctx2,
	}))(t)
	if out.KeyID != b.Arn || out.SourceKeyID != a.Arn {
		t.Errorf("ReEncrypt: KeyId %q SourceKeyId %q, want %q %q", out.KeyID, out.SourceKeyID, b.Arn, a.Arn)
	}
	if out.SourceEncryptionAlgorithm != "SYMMETRIC_DEFAULT" || out.DestinationEncryptionAlgorithm != "SYMMETRIC_DEFAULT" {
		t.Errorf("ReEncrypt algorithms %q %q", out.SourceEncryptionAlgorithm, out.DestinationEncryptionAlgorithm)
	}
	if out.SourceKeyMaterialID == "" || out.DestinationKeyMaterialID == "" || out.SourceKeyMaterialID == out.DestinationKeyMaterialID {
		t.Errorf("ReEncrypt material ids %q %q", out.SourceKeyMaterialID, out.DestinationKeyMaterialID)
	}
	if dec := e.wantPlain(t, e.root(t), old, ctx1, plain); dec.KeyID != a.Arn {
		t.Errorf("the old blob decrypts under %s", dec.KeyID)
	}
	if dec := e.wantPlain(t, e.root(t), out.CiphertextBlob, ctx2, plain); dec.KeyID != b.Arn {
		t.Errorf("the new blob decrypts under %s", dec.KeyID)
	}
	for _, c := range []map[string]string{ctx1, nil} {
		_, err := e.decrypt(t, e.root(t), out.CiphertextBlob, c)
		wantErr(t, err, kmsclient.ErrInvalidCiphertext)
	}
	_, err := e.KMS.Decrypt(e.root(t), &kmsclient.DecryptInput{CiphertextBlob: out.CiphertextBlob, EncryptionContext: ctx2, KeyID: a.KeyID})
	wantErr(t, err, kmsclient.ErrIncorrectKey)

	// Same key, new context.
	same := must(e.KMS.ReEncrypt(e.root(t), &kmsclient.ReEncryptInput{
		CiphertextBlob: old, SourceEncryptionContext: ctx1, SourceKeyID: a.Arn, DestinationKeyID: a.KeyID, DestinationEncryptionContext: ctx3,
	}))(t)
	e.wantPlain(t, e.root(t), same.CiphertextBlob, ctx3, plain)
	_, err = e.decrypt(t, e.root(t), same.CiphertextBlob, ctx1)
	wantErr(t, err, kmsclient.ErrInvalidCiphertext)

	// Failures.
	_, err = e.KMS.ReEncrypt(e.root(t), &kmsclient.ReEncryptInput{CiphertextBlob: old, SourceEncryptionContext: ctx2, DestinationKeyID: b.KeyID})
	wantErr(t, err, kmsclient.ErrInvalidCiphertext)
	_, err = e.KMS.ReEncrypt(e.root(t), &kmsclient.ReEncryptInput{CiphertextBlob: old, SourceEncryptionContext: ctx1, SourceKeyID: b.KeyID, DestinationKeyID: b.KeyID})
	wantErr(t, err, kmsclient.ErrIncorrectKey)
	_, err = e.KMS.ReEncrypt(e.root(t), &kmsclient.ReEncryptInput{CiphertextBlob: old, SourceEncryptionContext: ctx1, DestinationKeyID: "alias/suite-nope"})
	wantErr(t, err, kmsclient.ErrNotFound)
}

func testDisabledKey(t *testing.T, e *Env) {
	k, other := e.createKey(t, nil), e.createKey(t, nil)
	plain := []byte("before disable")
	blob := e.encrypt(t, k.KeyID, plain, nil)

	must(e.KMS.DisableKey(e.root(t), &kmsclient.KeyIDInput{KeyID: k.KeyID}))(t)
	must(e.KMS.DisableKey(e.root(t), &kmsclient.KeyIDInput{KeyID: k.Arn}))(t) // idempotent
	if m := e.describe(t, k.KeyID); m.Enabled || m.KeyState != "Disabled" {
		t.Errorf("disabled key: Enabled %v KeyState %q", m.Enabled, m.KeyState)
	}
	wantAllErr(t, e.cryptoCalls(t, k.KeyID, blob, other.KeyID), kmsclient.ErrDisabled)
	_, err := e.KMS.ReEncrypt(e.root(t), &kmsclient.ReEncryptInput{CiphertextBlob: blob, DestinationKeyID: other.KeyID})
	wantErr(t, err, kmsclient.ErrDisabled)

	must(e.KMS.EnableKey(e.root(t), &kmsclient.KeyIDInput{KeyID: k.KeyID}))(t)
	if m := e.describe(t, k.KeyID); !m.Enabled || m.KeyState != "Enabled" {
		t.Errorf("re-enabled key: Enabled %v KeyState %q", m.Enabled, m.KeyState)
	}
	for op, err := range e.cryptoCalls(t, k.KeyID, blob, other.KeyID) {
		if err != nil {
			t.Errorf("%s after EnableKey: %v", op, err)
		}
	}
	e.wantPlain(t, e.root(t), blob, nil, plain)
}

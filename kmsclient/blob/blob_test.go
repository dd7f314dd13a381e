package blob

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/google/uuid"
)

var (
	testMaterial = bytes.Repeat([]byte{0x42}, KeyLen)
	testHeader   = Header{KeyID: uuid.MustParse("1234abcd-12ab-34cd-56ef-1234567890ab"), Material: 3}
)

// zeroReader gives an all-zero nonce so the known answer is fixed.
type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestKnownAnswer pins format version 1 byte for byte: a change to the layout,
// the AAD or the context encoding breaks it.
func TestKnownAnswer(t *testing.T) {
	ctx := map[string]string{"aws:ebs:id": "vol-0123456789abcdef0", "a": "b"}
	got, err := Seal(testMaterial, testHeader, []byte("hello, kms"), ctx, zeroReader{})
	if err != nil {
		t.Fatal(err)
	}
	const wantHeader = "01" + "1234abcd12ab34cd56ef1234567890ab" + "00000003" + "000000000000000000000000"
	gotHex := hex.EncodeToString(got)
	if gotHex[:66] != wantHeader {
		t.Fatalf("header = %s, want %s", gotHex[:66], wantHeader)
	}
	if gotHex[66:] != knownPayloadHex {
		t.Fatalf("sealed payload = %s, want %s", gotHex[66:], knownPayloadHex)
	}
	plain, err := Open(testMaterial, got, ctx)
	if err != nil || string(plain) != "hello, kms" {
		t.Fatalf("Open = %q, %v", plain, err)
	}
}

// knownPayloadHex was computed independently with Python's cryptography
// package (AESGCM over the same key, nonce and AAD).
const knownPayloadHex = "9cd7939533a0a58cf43cff27630f0c8a61daf15b7d53db782244"

func TestRoundTripAndHeader(t *testing.T) {
	for _, n := range []int{0, 1, 64, 4096} {
		payload := make([]byte, n)
		rand.Read(payload)
		b, err := Seal(testMaterial, testHeader, payload, nil, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != n+Overhead {
			t.Fatalf("len = %d, want %d", len(b), n+Overhead)
		}
		h, err := ParseHeader(b)
		if err != nil || h != testHeader {
			t.Fatalf("header = %+v, %v", h, err)
		}
		got, err := Open(testMaterial, b, map[string]string{})
		if err != nil || !bytes.Equal(got, payload) {
			t.Fatalf("Open: %v", err)
		}
	}
}

// TestTamper flips every bit of a blob in turn: each one must fail to open.
func TestTamper(t *testing.T) {
	b, err := Seal(testMaterial, testHeader, []byte("secret"), map[string]string{"k": "v"}, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		for bit := 0; bit < 8; bit++ {
			c := bytes.Clone(b)
			c[i] ^= 1 << bit
			if _, err := Open(testMaterial, c, map[string]string{"k": "v"}); !errors.Is(err, ErrInvalid) {
				t.Fatalf("byte %d bit %d: err = %v, want ErrInvalid", i, bit, err)
			}
		}
	}
	if _, err := Open(testMaterial, b[:len(b)-1], map[string]string{"k": "v"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("truncated: %v", err)
	}
}

func TestContextIsBound(t *testing.T) {
	ctx := map[string]string{"k": "v", "k2": "v2"}
	b, err := Seal(testMaterial, testHeader, []byte("x"), ctx, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, other := range []map[string]string{
		nil, {"k": "v"}, {"k": "V", "k2": "v2"}, {"K": "v", "k2": "v2"}, {"k": "v", "k2": "v2", "k3": ""},
		{"kk": "", "2": "v2"}, // same concatenation, different pairs
	} {
		if _, err := Open(testMaterial, b, other); !errors.Is(err, ErrInvalid) {
			t.Fatalf("context %v opened a blob sealed with %v", other, ctx)
		}
	}
	wrong := bytes.Repeat([]byte{1}, KeyLen)
	if _, err := Open(wrong, b, ctx); !errors.Is(err, ErrInvalid) {
		t.Fatal("wrong material opened the blob")
	}
}

func TestCanonicalContextUnambiguous(t *testing.T) {
	a := CanonicalContext(map[string]string{"ab": "c"})
	b := CanonicalContext(map[string]string{"a": "bc"})
	if bytes.Equal(a, b) {
		t.Fatal("different contexts share a canonical form")
	}
}

// Package blob is the KMS ciphertext format: a versioned binary envelope that
// names the KMS key and the key-material version it was sealed under, and
// seals the payload with AES-256-GCM with the header and the encryption
// context as additional authenticated data.
//
// Version 1, byte by byte (all integers big endian):
//
//	offset  size  field
//	0       1     format version, 0x01
//	1       16    key id (the 16 bytes of the key's UUID)
//	17      4     key-material version (uint32; 1 is the key's first material)
//	21      12    GCM nonce (random)
//	33      n+16  GCM ciphertext of the n-byte payload, then its 16-byte tag
//
// AAD = bytes 0..32 of the blob || canonical(encryption context), where the
// canonical form of a context is, for each pair in bytewise order of keys,
// uint32 len(key) || key || uint32 len(value) || value (empty for no context).
// A blob is 49 bytes longer than its payload.
package blob

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/google/uuid"
)

// Format constants.
const (
	Version1  = 0x01
	HeaderLen = 1 + 16 + 4 + 12
	TagLen    = 16
	Overhead  = HeaderLen + TagLen
	KeyLen    = 32
)

// ErrInvalid is the kind of every error about a malformed, tampered or
// mismatched blob (the KMS answers InvalidCiphertextException).
var ErrInvalid = errors.New("invalid ciphertext blob")

// Header names the key and material that sealed a blob.
type Header struct {
	KeyID    uuid.UUID
	Material uint32
}

// ParseHeader reads the header of b without opening it.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < Overhead {
		return Header{}, fmt.Errorf("%w: %d bytes is shorter than the %d-byte minimum", ErrInvalid, len(b), Overhead)
	}
	if b[0] != Version1 {
		return Header{}, fmt.Errorf("%w: unknown format version %d", ErrInvalid, b[0])
	}
	var h Header
	copy(h.KeyID[:], b[1:17])
	h.Material = binary.BigEndian.Uint32(b[17:21])
	if h.Material == 0 {
		return Header{}, fmt.Errorf("%w: key-material version 0", ErrInvalid)
	}
	return h, nil
}

// Seal encrypts payload under the 32-byte material key, binding h and the
// encryption context. rand supplies the nonce.
func Seal(material []byte, h Header, payload []byte, context map[string]string, rand io.Reader) ([]byte, error) {
	aead, err := newGCM(material)
	if err != nil {
		return nil, err
	}
	out := make([]byte, HeaderLen, HeaderLen+len(payload)+TagLen)
	out[0] = Version1
	copy(out[1:17], h.KeyID[:])
	binary.BigEndian.PutUint32(out[17:21], h.Material)
	if _, err := io.ReadFull(rand, out[21:HeaderLen]); err != nil {
		return nil, fmt.Errorf("blob nonce: %w", err)
	}
	aad := append(bytes.Clone(out), CanonicalContext(context)...)
	return aead.Seal(out, out[21:HeaderLen], payload, aad), nil
}

// Open authenticates and decrypts b under the material key with the given
// encryption context. Any change to the blob or the context fails with
// ErrInvalid.
func Open(material []byte, b []byte, context map[string]string) ([]byte, error) {
	if _, err := ParseHeader(b); err != nil {
		return nil, err
	}
	aead, err := newGCM(material)
	if err != nil {
		return nil, err
	}
	aad := append(bytes.Clone(b[:HeaderLen]), CanonicalContext(context)...)
	plain, err := aead.Open(nil, b[21:HeaderLen], b[HeaderLen:], aad)
	if err != nil {
		return nil, fmt.Errorf("%w: authentication failed", ErrInvalid)
	}
	return plain, nil
}

// CanonicalContext is the byte form of an encryption context bound as AAD.
func CanonicalContext(context map[string]string) []byte {
	keys := make([]string, 0, len(context))
	for k := range context {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []byte
	for _, k := range keys {
		out = binary.BigEndian.AppendUint32(out, uint32(len(k)))
		out = append(out, k...)
		v := context[k]
		out = binary.BigEndian.AppendUint32(out, uint32(len(v)))
		out = append(out, v...)
	}
	return out
}

func newGCM(material []byte) (cipher.AEAD, error) {
	if len(material) != KeyLen {
		return nil, fmt.Errorf("blob: key material is %d bytes, want %d", len(material), KeyLen)
	}
	block, err := aes.NewCipher(material)
	if err != nil {
		return nil, fmt.Errorf("blob: %w", err)
	}
	return cipher.NewGCM(block)
}

package embedded

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ebs-dev/ebs/internal/durable"
)

// rootKey wraps CMK key material at rest: AES-256-GCM, a random 12-byte
// nonce, AAD "ebs-kms/material/v1|<key id>|<version>". A wrapped material is
// nonce || ciphertext || tag (60 bytes for 32 bytes of material).
type rootKey struct {
	aead cipher.AEAD
}

const rootKeyLen = 32

// loadRootKey reads the 32-byte root key from path, creating it (0600) with
// fresh random bytes if create is set and the file does not exist.
func loadRootKey(path string, create bool) (*rootKey, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && create {
		raw, err = createRootKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("root key: %w", err)
	}
	if len(raw) != rootKeyLen {
		return nil, fmt.Errorf("root key %s: %d bytes, want %d", path, len(raw), rootKeyLen)
	}
	block, err := aes.NewCipher(raw)
	clear(raw)
	if err != nil {
		return nil, fmt.Errorf("root key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("root key: %w", err)
	}
	return &rootKey{aead: aead}, nil
}

func createRootKey(path string) ([]byte, error) {
	if err := durable.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	raw := make([]byte, rootKeyLen)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	if err := durable.WriteFile(path, raw, 0o600); err != nil {
		return nil, err
	}
	return raw, nil
}

func materialAAD(keyID string, version uint32) []byte {
	return fmt.Appendf(nil, "ebs-kms/material/v1|%s|%d", keyID, version)
}

// wrap seals a key material for storage.
func (r *rootKey) wrap(keyID string, version uint32, material []byte) ([]byte, error) {
	nonce := make([]byte, r.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("wrap material: %w", err)
	}
	return r.aead.Seal(nonce, nonce, material, materialAAD(keyID, version)), nil
}

// unwrap opens a stored key material. The caller clears it after use.
func (r *rootKey) unwrap(keyID string, version uint32, wrapped []byte) ([]byte, error) {
	n := r.aead.NonceSize()
	if len(wrapped) < n+r.aead.Overhead() {
		return nil, errors.New("unwrap material: too short")
	}
	m, err := r.aead.Open(nil, wrapped[:n], wrapped[n:], materialAAD(keyID, version))
	if err != nil {
		return nil, fmt.Errorf("unwrap material of key %s version %d: %w", keyID, version, err)
	}
	return m, nil
}

package embedded

import (
	"context"
	"crypto/rand"
	"errors"

	"github.com/google/uuid"

	"github.com/ebs-dev/ebs/internal/awserr"
	"github.com/ebs-dev/ebs/internal/kv"
	"github.com/ebs-dev/ebs/kmsclient"
	"github.com/ebs-dev/ebs/kmsclient/blob"
)

const algorithm = "SYMMETRIC_DEFAULT"

// seal encrypts payload under the key's current material.
func (s *KMS) seal(k *keyRecord, payload []byte, encCtx map[string]string) ([]byte, string, error) {
	m := k.current()
	secret, err := s.root.unwrap(k.ID, m.Version, m.Wrapped)
	if err != nil {
		return nil, "", awserr.New(kmsclient.ErrInternal, "%v", err)
	}
	defer clear(secret)
	b, err := blob.Seal(secret, blob.Header{KeyID: uuid.MustParse(k.ID), Material: m.Version}, payload, encCtx, rand.Reader)
	if err != nil {
		return nil, "", awserr.New(kmsclient.ErrInternal, "%v", err)
	}
	return b, m.ID, nil
}

// open authorises action on the key a blob names and decrypts it. keyID, if
// set, must name that same key (IncorrectKeyException otherwise).
func (s *KMS) open(c *call, ciphertext []byte, keyID, action string, encCtx map[string]string, allowPending bool) (*keyRecord, []byte, string, error) {
	if err := validateBlob(ciphertext); err != nil {
		return nil, nil, "", err
	}
	h, err := blob.ParseHeader(ciphertext)
	if err != nil {
		return nil, nil, "", awserr.New(kmsclient.ErrInvalidCiphertext, "")
	}
	k, err := getJSON[keyRecord](c.tx, prefixKey+h.KeyID.String())
	if errors.Is(err, kv.ErrNotFound) {
		return nil, nil, "", errUnknownKeyInBlob()
	}
	if err != nil {
		return nil, nil, "", err
	}
	if keyID != "" {
		ref, err := s.parseKeyRef(keyID)
		if err != nil {
			return nil, nil, "", err
		}
		want, err := s.loadKey(c.tx, ref)
		if err != nil {
			return nil, nil, "", err
		}
		if want.ID != k.ID {
			return nil, nil, "", awserr.New(kmsclient.ErrIncorrectKey, "The key ID in the request does not identify a CMK that can perform this operation.")
		}
	}
	if k, err = s.useKey(c, k.ID, action, encCtx); err != nil {
		if errors.Is(err, kmsclient.ErrNotFound) { // deleted now: its deletion date had passed
			return nil, nil, "", errUnknownKeyInBlob()
		}
		return nil, nil, "", err
	}
	if err := usable(k); err != nil && !(allowPending && k.State == statePendingDeletion) {
		return nil, nil, "", err
	}
	m, ok := k.materialVersion(h.Material)
	if !ok {
		return nil, nil, "", awserr.New(kmsclient.ErrInvalidCiphertext, "")
	}
	secret, err := s.root.unwrap(k.ID, m.Version, m.Wrapped)
	if err != nil {
		return nil, nil, "", awserr.New(kmsclient.ErrInternal, "%v", err)
	}
	defer clear(secret)
	plain, err := blob.Open(secret, ciphertext, encCtx)
	if err != nil {
		return nil, nil, "", awserr.New(kmsclient.ErrInvalidCiphertext, "")
	}
	return k, plain, m.ID, nil
}

func errUnknownKeyInBlob() error {
	return awserr.New(kmsclient.ErrAccessDenied, "The ciphertext refers to a customer master key that does not exist, does not exist in this region, or you are not allowed to access.")
}

func validateBlob(b []byte) error {
	if len(b) == 0 || len(b) > 6144 {
		return awserr.New(kmsclient.ErrValidation, "1 validation error detected: Value at 'ciphertextBlob' failed to satisfy constraint: Member must have length between 1 and 6144")
	}
	return nil
}

func validateContext(encCtx map[string]string) error {
	n := 0
	for k, v := range encCtx {
		if k == "" {
			return awserr.New(kmsclient.ErrValidation, "Encryption context keys must not be empty.")
		}
		n += len(k) + len(v)
	}
	if n > 8192 {
		return awserr.New(kmsclient.ErrValidation, "The encryption context is larger than 8192 bytes.")
	}
	return nil
}

func validateAlgorithm(a string) error {
	if a != "" && a != algorithm {
		return awserr.New(kmsclient.ErrInvalidKeyUsage, "The encryption algorithm %s is not supported by a SYMMETRIC_DEFAULT key.", a)
	}
	return nil
}

// Encrypt seals up to 4096 bytes under a key.
func (s *KMS) Encrypt(ctx context.Context, in *kmsclient.EncryptInput) (*kmsclient.EncryptOutput, error) {
	return run(s, ctx, "Encrypt", in, func(c *call) (*kmsclient.EncryptOutput, error) {
		if len(in.Plaintext) == 0 || len(in.Plaintext) > 4096 {
			return nil, awserr.New(kmsclient.ErrValidation, "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length between 1 and 4096")
		}
		if err := firstError(validateContext(in.EncryptionContext), validateAlgorithm(in.EncryptionAlgorithm)); err != nil {
			return nil, err
		}
		k, err := s.useKey(c, in.KeyID, "Encrypt", in.EncryptionContext)
		if err != nil {
			return nil, err
		}
		if err := usable(k); err != nil {
			return nil, err
		}
		b, _, err := s.seal(k, in.Plaintext, in.EncryptionContext)
		if err != nil {
			return nil, err
		}
		return &kmsclient.EncryptOutput{CiphertextBlob: b, KeyID: k.Arn, EncryptionAlgorithm: algorithm}, nil
	})
}

// Decrypt opens a ciphertext blob. KeyId is optional: the blob names its key.
func (s *KMS) Decrypt(ctx context.Context, in *kmsclient.DecryptInput) (*kmsclient.DecryptOutput, error) {
	return run(s, ctx, "Decrypt", in, func(c *call) (*kmsclient.DecryptOutput, error) {
		if err := firstError(validateContext(in.EncryptionContext), validateAlgorithm(in.EncryptionAlgorithm)); err != nil {
			return nil, err
		}
		k, plain, mid, err := s.open(c, in.CiphertextBlob, in.KeyID, "Decrypt", in.EncryptionContext, false)
		if err != nil {
			return nil, err
		}
		return &kmsclient.DecryptOutput{KeyID: k.Arn, Plaintext: plain, EncryptionAlgorithm: algorithm, KeyMaterialID: mid}, nil
	})
}

// ReEncrypt decrypts a blob and encrypts its payload under another key or
// context, without the plaintext leaving the KMS.
func (s *KMS) ReEncrypt(ctx context.Context, in *kmsclient.ReEncryptInput) (*kmsclient.ReEncryptOutput, error) {
	return run(s, ctx, "ReEncrypt", in, func(c *call) (*kmsclient.ReEncryptOutput, error) {
		if err := firstError(validateContext(in.SourceEncryptionContext), validateContext(in.DestinationEncryptionContext),
			validateAlgorithm(in.SourceEncryptionAlgorithm), validateAlgorithm(in.DestinationEncryptionAlgorithm)); err != nil {
			return nil, err
		}
		src, plain, srcMID, err := s.open(c, in.CiphertextBlob, in.SourceKeyID, "ReEncryptFrom", in.SourceEncryptionContext, true)
		if err != nil {
			return nil, err
		}
		defer clear(plain)
		dst, err := s.useKey(c, in.DestinationKeyID, "ReEncryptTo", in.DestinationEncryptionContext)
		if err != nil {
			return nil, err
		}
		if err := usable(dst); err != nil {
			return nil, err
		}
		b, dstMID, err := s.seal(dst, plain, in.DestinationEncryptionContext)
		if err != nil {
			return nil, err
		}
		return &kmsclient.ReEncryptOutput{
			CiphertextBlob: b, SourceKeyID: src.Arn, KeyID: dst.Arn,
			SourceEncryptionAlgorithm: algorithm, DestinationEncryptionAlgorithm: algorithm,
			SourceKeyMaterialID: srcMID, DestinationKeyMaterialID: dstMID,
		}, nil
	})
}

// GenerateDataKey returns a new data key in plaintext and sealed under a key.
func (s *KMS) GenerateDataKey(ctx context.Context, in *kmsclient.GenerateDataKeyInput) (*kmsclient.GenerateDataKeyOutput, error) {
	return s.generateDataKey(ctx, "GenerateDataKey", in, true)
}

// GenerateDataKeyWithoutPlaintext returns a new data key only sealed: the
// pattern EBS uses at CreateVolume.
func (s *KMS) GenerateDataKeyWithoutPlaintext(ctx context.Context, in *kmsclient.GenerateDataKeyInput) (*kmsclient.GenerateDataKeyOutput, error) {
	return s.generateDataKey(ctx, "GenerateDataKeyWithoutPlaintext", in, false)
}

func (s *KMS) generateDataKey(ctx context.Context, op string, in *kmsclient.GenerateDataKeyInput, withPlaintext bool) (*kmsclient.GenerateDataKeyOutput, error) {
	return run(s, ctx, op, in, func(c *call) (*kmsclient.GenerateDataKeyOutput, error) {
		n, err := dataKeyLength(in)
		if err != nil {
			return nil, err
		}
		if err := validateContext(in.EncryptionContext); err != nil {
			return nil, err
		}
		k, err := s.useKey(c, in.KeyID, op, in.EncryptionContext)
		if err != nil {
			return nil, err
		}
		if err := usable(k); err != nil {
			return nil, err
		}
		plain := make([]byte, n)
		if _, err := rand.Read(plain); err != nil {
			return nil, awserr.New(kmsclient.ErrInternal, "random: %v", err)
		}
		b, mid, err := s.seal(k, plain, in.EncryptionContext)
		if err != nil {
			return nil, err
		}
		out := &kmsclient.GenerateDataKeyOutput{CiphertextBlob: b, KeyID: k.Arn, KeyMaterialID: mid}
		if withPlaintext {
			out.Plaintext = plain
		} else {
			clear(plain)
		}
		return out, nil
	})
}

func dataKeyLength(in *kmsclient.GenerateDataKeyInput) (int, error) {
	switch {
	case in.KeySpec != "" && in.NumberOfBytes != 0:
		return 0, awserr.New(kmsclient.ErrValidation, "Please specify either number of bytes or key spec, not both.")
	case in.KeySpec == "AES_256":
		return 32, nil
	case in.KeySpec == "AES_128":
		return 16, nil
	case in.KeySpec != "":
		return 0, awserr.New(kmsclient.ErrValidation, "1 validation error detected: Value '%s' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]", in.KeySpec)
	case in.NumberOfBytes == 0:
		return 0, awserr.New(kmsclient.ErrValidation, "Please specify either number of bytes or key spec.")
	case in.NumberOfBytes < 1 || in.NumberOfBytes > 1024:
		return 0, awserr.New(kmsclient.ErrValidation, "1 validation error detected: Value '%d' at 'numberOfBytes' failed to satisfy constraint: Member must have value between 1 and 1024", in.NumberOfBytes)
	}
	return in.NumberOfBytes, nil
}

// GenerateRandom returns random bytes.
func (s *KMS) GenerateRandom(ctx context.Context, in *kmsclient.GenerateRandomInput) (*kmsclient.GenerateRandomOutput, error) {
	return run(s, ctx, "GenerateRandom", in, func(c *call) (*kmsclient.GenerateRandomOutput, error) {
		if in.NumberOfBytes < 1 || in.NumberOfBytes > 1024 {
			return nil, awserr.New(kmsclient.ErrValidation, "1 validation error detected: Value '%d' at 'numberOfBytes' failed to satisfy constraint: Member must have value between 1 and 1024", in.NumberOfBytes)
		}
		out := &kmsclient.GenerateRandomOutput{Plaintext: make([]byte, in.NumberOfBytes)}
		rand.Read(out.Plaintext)
		return out, nil
	})
}

func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

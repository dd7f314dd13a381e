package blockdev

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/ebs-dev/ebs/internal/kv"
	"github.com/ebs-dev/ebs/kmsclient"
)

const keyDefaults = "cfg/ebs-encryption"

// encryptionDefaults are the account's EBS encryption settings: they apply
// to volumes created afterwards.
type encryptionDefaults struct {
	ByDefault bool   `json:"byDefault"`
	KmsKeyArn string `json:"kmsKeyArn,omitempty"` // empty: alias/aws/ebs
}

func (d encryptionDefaults) keyID() string {
	if d.KmsKeyArn != "" {
		return d.KmsKeyArn
	}
	return "alias/aws/ebs"
}

func (m *Manager) defaults() (encryptionDefaults, error) {
	var d encryptionDefaults
	raw, err := m.cfg.DB.Get([]byte(keyDefaults))
	if errors.Is(err, kv.ErrNotFound) {
		return d, nil
	}
	if err != nil {
		return d, err
	}
	return d, json.Unmarshal(raw, &d)
}

func (m *Manager) setDefaults(fn func(d *encryptionDefaults)) (encryptionDefaults, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, err := m.defaults()
	if err != nil {
		return d, err
	}
	fn(&d)
	raw, _ := json.Marshal(d)
	if err := m.cfg.DB.Update(func(tx *kv.Txn) error { return tx.Set([]byte(keyDefaults), raw) }); err != nil {
		return d, err
	}
	return d, m.cfg.DB.Sync()
}

// GetEncryptionByDefault reports whether new volumes are always encrypted.
func (m *Manager) GetEncryptionByDefault(ctx context.Context) (*EncryptionByDefault, error) {
	d, err := m.defaults()
	return &EncryptionByDefault{EbsEncryptionByDefault: d.ByDefault}, err
}

// SetEncryptionByDefault turns encryption by default on or off.
func (m *Manager) SetEncryptionByDefault(ctx context.Context, on bool) (*EncryptionByDefault, error) {
	d, err := m.setDefaults(func(d *encryptionDefaults) { d.ByDefault = on })
	return &EncryptionByDefault{EbsEncryptionByDefault: d.ByDefault}, err
}

// GetDefaultKmsKey returns the key that encrypts new volumes when none is
// named: the ARN of a key, or the alias ARN of alias/aws/ebs.
func (m *Manager) GetDefaultKmsKey(ctx context.Context) (*DefaultKmsKey, error) {
	d, err := m.defaults()
	if err != nil {
		return nil, err
	}
	return &DefaultKmsKey{KmsKeyID: m.defaultKeyArn(d)}, nil
}

func (m *Manager) defaultKeyArn(d encryptionDefaults) string {
	if d.KmsKeyArn != "" {
		return d.KmsKeyArn
	}
	return "arn:aws:kms:" + m.cfg.Region + ":" + m.cfg.Account + ":alias/aws/ebs"
}

// ModifyDefaultKmsKey sets the default key; it must exist (checked with
// DescribeKey, through EC2) and is stored as its key ARN.
func (m *Manager) ModifyDefaultKmsKey(ctx context.Context, in *ModifyDefaultKmsKeyInput) (*DefaultKmsKey, error) {
	if in.KmsKeyID == "" {
		return nil, kmsMissing()
	}
	md, err := m.cfg.KMS.DescribeKey(m.viaEC2(ctx), &kmsclient.KeyIDInput{KeyID: in.KmsKeyID})
	if err != nil {
		return nil, err
	}
	d, err := m.setDefaults(func(d *encryptionDefaults) { d.KmsKeyArn = md.KeyMetadata.Arn })
	if err != nil {
		return nil, err
	}
	return &DefaultKmsKey{KmsKeyID: m.defaultKeyArn(d)}, nil
}

// ResetDefaultKmsKey makes alias/aws/ebs the default key again.
func (m *Manager) ResetDefaultKmsKey(ctx context.Context) (*DefaultKmsKey, error) {
	d, err := m.setDefaults(func(d *encryptionDefaults) { d.KmsKeyArn = "" })
	if err != nil {
		return nil, err
	}
	return &DefaultKmsKey{KmsKeyID: m.defaultKeyArn(d)}, nil
}

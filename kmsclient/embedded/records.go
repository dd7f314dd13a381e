package embedded

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ebs-dev/ebs/internal/awserr"
	"github.com/ebs-dev/ebs/internal/kv"
	"github.com/ebs-dev/ebs/kmsclient"
)

// Store layout (badger keys; values are JSON):
//
//	key/<uuid>               keyRecord, with the key's wrapped materials
//	alias/<alias name>       aliasRecord (name without the "alias/" prefix)
//	grant/<uuid>/<grant id>  grantRecord
//	granttoken/<sha256 hex>  "<uuid>/<grant id>"
//	audit/outbox/<16 hex>    outboxEntry: audit records of a committed change
//	                         that the trail may not have yet (outbox.go)
const (
	prefixKey   = "key/"
	prefixAlias = "alias/"
	prefixGrant = "grant/"
)

// Key states, managers and rotation types as AWS names them.
const (
	stateEnabled         = "Enabled"
	stateDisabled        = "Disabled"
	statePendingDeletion = "PendingDeletion"

	managerCustomer = "CUSTOMER"
	managerAWS      = "AWS"

	rotationAutomatic = "AUTOMATIC"
	rotationOnDemand  = "ON_DEMAND"
)

type keyRecord struct {
	ID                string           `json:"id"`
	Arn               string           `json:"arn"`
	Account           string           `json:"account"`
	Description       string           `json:"description"`
	Created           time.Time        `json:"created"`
	State             string           `json:"state"`
	DeletionDate      time.Time        `json:"deletionDate,omitzero"`
	PendingWindowDays int              `json:"pendingWindowDays,omitempty"`
	Manager           string           `json:"manager"`
	Policy            string           `json:"policy"`
	Tags              []kmsclient.Tag  `json:"tags,omitempty"`
	Rotation          rotationSettings `json:"rotation"`
	OnDemandRotations int              `json:"onDemandRotations"`
	Materials         []material       `json:"materials"`
}

type rotationSettings struct {
	Enabled    bool      `json:"enabled"`
	PeriodDays int       `json:"periodDays,omitempty"`
	Next       time.Time `json:"next,omitzero"`
}

type material struct {
	Version      uint32    `json:"version"`
	ID           string    `json:"id"` // KeyMaterialId
	Wrapped      []byte    `json:"wrapped"`
	Created      time.Time `json:"created"`
	RotationType string    `json:"rotationType,omitempty"` // empty for the key's first material
}

func (k *keyRecord) current() *material { return &k.Materials[len(k.Materials)-1] }

func (k *keyRecord) materialVersion(v uint32) (*material, bool) {
	if v == 0 || int(v) > len(k.Materials) {
		return nil, false
	}
	return &k.Materials[v-1], true
}

type aliasRecord struct {
	Name    string    `json:"name"` // e.g. "alias/app"
	KeyID   string    `json:"keyId"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

type grantRecord struct {
	ID             string            `json:"id"`
	KeyID          string            `json:"keyId"`
	Name           string            `json:"name,omitempty"`
	TokenHash      string            `json:"tokenHash"`
	Created        time.Time         `json:"created"`
	Grantee        string            `json:"grantee"`
	Retiring       string            `json:"retiring,omitempty"`
	IssuingAccount string            `json:"issuingAccount"`
	Operations     []string          `json:"operations"`
	Constraints    *grantConstraints `json:"constraints,omitempty"`
}

func getJSON[T any](tx *kv.Txn, key string) (*T, error) {
	raw, err := tx.Get([]byte(key))
	if err != nil {
		return nil, err
	}
	v := new(T)
	if err := json.Unmarshal(raw, v); err != nil {
		return nil, fmt.Errorf("decode %s: %w", key, err)
	}
	return v, nil
}

func putJSON(tx *kv.Txn, key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	return tx.Set([]byte(key), raw)
}

func scanJSON[T any](tx *kv.Txn, prefix string, fn func(*T) error) error {
	return tx.Scan([]byte(prefix), nil, func(k, raw []byte) error {
		v := new(T)
		if err := json.Unmarshal(raw, v); err != nil {
			return fmt.Errorf("decode %s: %w", k, err)
		}
		return fn(v)
	})
}

// keyRef is a KeyId parameter, parsed: a key id, key ARN, alias name or alias ARN.
type keyRef struct {
	raw   string
	id    string // set for a key id or key ARN
	alias string // "alias/name", set for an alias name or alias ARN
}

func (s *KMS) parseKeyRef(raw string) (keyRef, error) {
	r := keyRef{raw: raw}
	if raw == "" {
		return r, awserr.New(kmsclient.ErrValidation, "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null")
	}
	rest := raw
	if strings.HasPrefix(raw, "arn:") {
		parts := strings.SplitN(raw, ":", 6)
		if len(parts) != 6 || parts[2] != "kms" {
			return r, awserr.New(kmsclient.ErrInvalidArn, "Invalid arn %s", raw)
		}
		if parts[3] != s.region || parts[4] != s.account {
			return r, awserr.New(kmsclient.ErrNotFound, "Invalid keyId %s", raw)
		}
		rest = parts[5]
		if strings.HasPrefix(rest, "key/") {
			r.id = strings.TrimPrefix(rest, "key/")
			return r, nil
		}
		if !strings.HasPrefix(rest, "alias/") {
			return r, awserr.New(kmsclient.ErrInvalidArn, "Invalid arn %s", raw)
		}
	}
	if strings.HasPrefix(rest, "alias/") {
		r.alias = rest
		return r, nil
	}
	r.id = rest
	return r, nil
}

// errKeyNotFound is AWS's message for an unknown key.
func (s *KMS) errKeyNotFound(ref keyRef) error {
	if ref.alias != "" {
		return awserr.New(kmsclient.ErrNotFound, "Alias %s is not found.", s.aliasArn(ref.alias))
	}
	if strings.HasPrefix(ref.raw, "arn:") {
		return awserr.New(kmsclient.ErrNotFound, "Key '%s' does not exist", ref.raw)
	}
	return awserr.New(kmsclient.ErrNotFound, "Key '%s' does not exist", s.keyArn(ref.id))
}

// loadKey resolves ref to its key record inside tx.
func (s *KMS) loadKey(tx *kv.Txn, ref keyRef) (*keyRecord, error) {
	id := ref.id
	if ref.alias != "" {
		a, err := getJSON[aliasRecord](tx, prefixAlias+ref.alias)
		if errors.Is(err, kv.ErrNotFound) {
			return nil, s.errKeyNotFound(ref)
		}
		if err != nil {
			return nil, err
		}
		id = a.KeyID
	}
	k, err := getJSON[keyRecord](tx, prefixKey+id)
	if errors.Is(err, kv.ErrNotFound) {
		return nil, s.errKeyNotFound(ref)
	}
	return k, err
}

func (s *KMS) keyArn(id string) string {
	return fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", s.region, s.account, id)
}

func (s *KMS) aliasArn(alias string) string {
	return fmt.Sprintf("arn:aws:kms:%s:%s:%s", s.region, s.account, alias)
}

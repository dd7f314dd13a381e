package iam

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/ebs-dev/ebs/internal/awserr"
	"github.com/ebs-dev/ebs/internal/clock"
	"github.com/ebs-dev/ebs/internal/durable"
)

// Error kinds, as IAM names them; the API maps them to codes and statuses.
var (
	ErrNoSuchEntity  = errors.New("no such entity")
	ErrLimitExceeded = errors.New("limit exceeded")
	ErrValidation    = errors.New("validation error")
	ErrAccessDenied  = errors.New("access denied")
)

// Key statuses.
const (
	StatusActive   = "Active"
	StatusInactive = "Inactive"
)

// MaxKeysPerUser is IAM's quota AccessKeysPerUser.
const MaxKeysPerUser = 2

var userNamePattern = regexp.MustCompile(`^[\w+=,.@-]+$`)

// AccessKey is one access key as IAM shows it. SecretAccessKey is set only in
// the answer to CreateAccessKey.
type AccessKey struct {
	UserName        string
	AccessKeyID     string
	SecretAccessKey string
	Status          string
	CreateDate      time.Time
}

// Credential is what a signature verifier needs to know of a key.
type Credential struct {
	AccessKeyID     string
	SecretAccessKey string
	UserName        string
}

// record is one key in the file.
type record struct {
	UserName        string    `json:"UserName"`
	AccessKeyID     string    `json:"AccessKeyId"`
	SecretAccessKey string    `json:"SecretAccessKey"`
	Status          string    `json:"Status"`
	CreateDate      time.Time `json:"CreateDate"`
}

func (r record) public() AccessKey {
	return AccessKey{UserName: r.UserName, AccessKeyID: r.AccessKeyID, Status: r.Status, CreateDate: r.CreateDate}
}

// Store is the access keys of the daemon's account. It is safe for
// concurrent use.
type Store struct {
	path  string
	clock clock.Clock
	mu    sync.RWMutex
	keys  []record // in creation order
}

// Open opens (creating it if needed) the key store in dir, normally
// <data-dir>/iam. A nil clk is the real clock.
func Open(dir string, clk clock.Clock) (*Store, error) {
	if clk == nil {
		clk = clock.Real{}
	}
	if err := durable.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("iam dir: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("iam dir: %w", err)
	}
	path := filepath.Join(dir, "access-keys.json")
	keys, err := readKeys(path)
	if err != nil {
		return nil, err
	}
	return &Store{path: path, clock: clk, keys: keys}, nil
}

// CreateAccessKey makes a new Active key for user and returns it with its
// secret, which is never shown again.
func (s *Store) CreateAccessKey(user string) (AccessKey, error) {
	if err := validateUserName(user); err != nil {
		return AccessKey{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, k := range s.keys {
		if k.UserName == user {
			n++
		}
	}
	if n >= MaxKeysPerUser {
		return AccessKey{}, awserr.New(ErrLimitExceeded, "Cannot exceed quota for AccessKeysPerUser: %d", MaxKeysPerUser)
	}
	r := record{
		UserName:        user,
		AccessKeyID:     "AKIA" + randomString(16, base32Alphabet),
		SecretAccessKey: randomString(40, secretAlphabet),
		Status:          StatusActive,
		CreateDate:      s.clock.Now().UTC().Truncate(time.Second),
	}
	keys := append(slices.Clip(s.keys), r)
	if err := writeKeys(s.path, keys); err != nil {
		return AccessKey{}, err
	}
	s.keys = keys
	out := r.public()
	out.SecretAccessKey = r.SecretAccessKey
	return out, nil
}

// ListAccessKeys returns the keys of user, oldest first, without secrets.
func (s *Store) ListAccessKeys(user string) ([]AccessKey, error) {
	if err := validateUserName(user); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []AccessKey{}
	for _, k := range s.keys {
		if k.UserName == user {
			out = append(out, k.public())
		}
	}
	return out, nil
}

// DeleteAccessKey deletes key id of user.
func (s *Store) DeleteAccessKey(user, id string) error {
	return s.change(user, id, func(keys []record, i int) []record {
		return slices.Delete(keys, i, i+1)
	})
}

// UpdateAccessKey sets the status of key id of user: Active or Inactive.
func (s *Store) UpdateAccessKey(user, id, status string) error {
	if status != StatusActive && status != StatusInactive {
		return awserr.New(ErrValidation, "1 validation error detected: Value '%s' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [%s, %s]", status, StatusActive, StatusInactive)
	}
	return s.change(user, id, func(keys []record, i int) []record {
		keys[i].Status = status
		return keys
	})
}

// change applies f to a copy of the keys with key id of user at index i,
// writes the result and then makes it current.
func (s *Store) change(user, id string, f func(keys []record, i int) []record) error {
	if err := validateUserName(user); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.keys, func(k record) bool { return k.AccessKeyID == id && k.UserName == user })
	if i < 0 {
		return awserr.New(ErrNoSuchEntity, "The Access Key with id %s cannot be found.", id)
	}
	keys := f(slices.Clone(s.keys), i)
	if err := writeKeys(s.path, keys); err != nil {
		return err
	}
	s.keys = keys
	return nil
}

// Lookup returns the credential of an Active key; ok is false for an
// unknown or Inactive key.
func (s *Store) Lookup(id string) (c Credential, ok bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, k := range s.keys {
		if k.AccessKeyID == id && k.Status == StatusActive {
			return Credential{AccessKeyID: k.AccessKeyID, SecretAccessKey: k.SecretAccessKey, UserName: k.UserName}, true
		}
	}
	return Credential{}, false
}

// ValidUserName reports whether name is an IAM user name (1-64 characters
// of [\w+=,.@-]).
func ValidUserName(name string) bool { return validateUserName(name) == nil }

func validateUserName(name string) error {
	switch {
	case name == "":
		return awserr.New(ErrValidation, "1 validation error detected: Value at 'userName' failed to satisfy constraint: Member must not be null")
	case len(name) > 64:
		return awserr.New(ErrValidation, "1 validation error detected: Value '%s' at 'userName' failed to satisfy constraint: Member must have length less than or equal to 64", name)
	case !userNamePattern.MatchString(name):
		return awserr.New(ErrValidation, "1 validation error detected: Value '%s' at 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+", name)
	}
	return nil
}

const (
	base32Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"                                 // 32: access key ids
	secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/" // 64: secrets
)

// randomString returns n characters of alphabet (32 or 64 long, so that a
// masked random byte picks each character with the same probability).
func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	rand.Read(b) // crypto/rand.Read never fails
	mask := byte(len(alphabet) - 1)
	for i := range b {
		b[i] = alphabet[b[i]&mask]
	}
	return string(b)
}

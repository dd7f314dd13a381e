package iam

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/ebs-dev/ebs/internal/awserr"
)

func openStore(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCreateAccessKeyShape(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "iam"))
	k, err := s.CreateAccessKey("alice")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^AKIA[A-Z2-7]{16}$`).MatchString(k.AccessKeyID) {
		t.Errorf("AccessKeyId %q", k.AccessKeyID)
	}
	if !regexp.MustCompile(`^[A-Za-z0-9+/]{40}$`).MatchString(k.SecretAccessKey) {
		t.Errorf("SecretAccessKey %q", k.SecretAccessKey)
	}
	if k.UserName != "alice" || k.Status != StatusActive || k.CreateDate.IsZero() {
		t.Errorf("key %+v", k)
	}
	k2, _ := s.CreateAccessKey("alice")
	if k2.AccessKeyID == k.AccessKeyID || k2.SecretAccessKey == k.SecretAccessKey {
		t.Error("two keys are the same")
	}
}

func TestQuotaAndList(t *testing.T) {
	s := openStore(t, t.TempDir())
	for range 2 {
		if _, err := s.CreateAccessKey("alice"); err != nil {
			t.Fatal(err)
		}
	}
	_, err := s.CreateAccessKey("alice")
	if !errors.Is(err, ErrLimitExceeded) || awserr.Message(err) != "Cannot exceed quota for AccessKeysPerUser: 2" {
		t.Fatalf("third key: %v", err)
	}
	if _, err := s.CreateAccessKey("bob"); err != nil {
		t.Fatalf("bob's quota is his own: %v", err)
	}
	keys, err := s.ListAccessKeys("alice")
	if err != nil || len(keys) != 2 {
		t.Fatalf("list: %v %v", keys, err)
	}
	for _, k := range keys {
		if k.SecretAccessKey != "" {
			t.Error("ListAccessKeys returned a secret")
		}
	}
	if keys, _ := s.ListAccessKeys("carol"); len(keys) != 0 {
		t.Errorf("carol has keys: %v", keys)
	}
	if err := s.DeleteAccessKey("alice", keys[0].AccessKeyID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateAccessKey("alice"); err != nil {
		t.Fatalf("after a delete there is room again: %v", err)
	}
}

func TestUserNameValidation(t *testing.T) {
	s := openStore(t, t.TempDir())
	for _, name := range []string{"", "a b", "alice/x", strings.Repeat("a", 65), "é"} {
		if _, err := s.CreateAccessKey(name); !errors.Is(err, ErrValidation) {
			t.Errorf("CreateAccessKey(%q) = %v, want ValidationError", name, err)
		}
	}
	for _, name := range []string{"a", "alice.b@example.com", "x+y=z,w-v_u", strings.Repeat("a", 64)} {
		if !ValidUserName(name) {
			t.Errorf("%q refused", name)
		}
	}
}

func TestNoSuchEntity(t *testing.T) {
	s := openStore(t, t.TempDir())
	k, _ := s.CreateAccessKey("alice")
	for _, err := range []error{
		s.DeleteAccessKey("alice", "AKIANOTAKEY"),
		s.DeleteAccessKey("bob", k.AccessKeyID), // someone else's key
		s.UpdateAccessKey("alice", "AKIANOTAKEY", StatusInactive),
	} {
		if !errors.Is(err, ErrNoSuchEntity) || !strings.HasPrefix(awserr.Message(err), "The Access Key with id ") {
			t.Errorf("got %v, want NoSuchEntity", err)
		}
	}
	if err := s.UpdateAccessKey("alice", k.AccessKeyID, "Disabled"); !errors.Is(err, ErrValidation) {
		t.Errorf("bad status: %v", err)
	}
}

func TestLookupAndStatus(t *testing.T) {
	s := openStore(t, t.TempDir())
	k, _ := s.CreateAccessKey("alice")
	c, ok := s.Lookup(k.AccessKeyID)
	if !ok || c.SecretAccessKey != k.SecretAccessKey || c.UserName != "alice" {
		t.Fatalf("lookup: %+v %v", c, ok)
	}
	if err := s.UpdateAccessKey("alice", k.AccessKeyID, StatusInactive); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Lookup(k.AccessKeyID); ok {
		t.Fatal("an Inactive key is usable")
	}
	keys, _ := s.ListAccessKeys("alice")
	if keys[0].Status != StatusInactive {
		t.Fatalf("status %q", keys[0].Status)
	}
	s.UpdateAccessKey("alice", k.AccessKeyID, StatusActive)
	if _, ok := s.Lookup(k.AccessKeyID); !ok {
		t.Fatal("a re-activated key is unusable")
	}
	if _, ok := s.Lookup("AKIAUNKNOWN"); ok {
		t.Fatal("unknown key found")
	}
}

func TestPersistenceAndModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "iam")
	s := openStore(t, dir)
	k, _ := s.CreateAccessKey("alice")
	s.UpdateAccessKey("alice", k.AccessKeyID, StatusInactive)

	s2 := openStore(t, dir)
	keys, _ := s2.ListAccessKeys("alice")
	if len(keys) != 1 || keys[0].AccessKeyID != k.AccessKeyID || keys[0].Status != StatusInactive ||
		!keys[0].CreateDate.Equal(k.CreateDate) {
		t.Fatalf("after reopen: %+v", keys)
	}
	s2.UpdateAccessKey("alice", k.AccessKeyID, StatusActive)
	if c, ok := s2.Lookup(k.AccessKeyID); !ok || c.SecretAccessKey != k.SecretAccessKey {
		t.Fatal("secret lost across reopen")
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, "access-keys.json"): 0o600} {
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v (%v), want %v", path, fi.Mode().Perm(), err, want)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}

func TestCorruptFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "access-keys.json"), []byte("{not json"), 0o600)
	if _, err := Open(dir, nil); err == nil {
		t.Fatal("a corrupt key file was accepted")
	}
}

func TestConcurrentCreate(t *testing.T) {
	s := openStore(t, t.TempDir())
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, err := s.CreateAccessKey("alice")
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	ok := 0
	for err := range errs {
		if err == nil {
			ok++
		} else if !errors.Is(err, ErrLimitExceeded) {
			t.Error(err)
		}
	}
	if ok != MaxKeysPerUser {
		t.Fatalf("%d keys created concurrently, want %d", ok, MaxKeysPerUser)
	}
}

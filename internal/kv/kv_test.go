package kv

import (
	"errors"
	"fmt"
	"testing"
)

func TestStoreRoundTripAndReopen(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, Options{SyncWrites: true})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *Txn) error {
		for i := 0; i < 10; i++ {
			if err := tx.Set([]byte(fmt.Sprintf("p/%02d", i)), []byte{byte(i)}); err != nil {
				return err
			}
		}
		return tx.Set([]byte("q/x"), []byte("other"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Get([]byte("missing")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing key: %v", err)
	}
	var keys []string
	err = db.View(func(tx *Txn) error {
		return tx.Scan([]byte("p/"), []byte("p/05"), func(k, v []byte) error {
			keys = append(keys, string(k))
			if len(keys) == 3 {
				return ErrStop
			}
			return nil
		})
	})
	if err != nil || fmt.Sprint(keys) != "[p/05 p/06 p/07]" {
		t.Fatalf("scan = %v, %v", keys, err)
	}
	if err := db.Update(func(tx *Txn) error { return tx.Delete([]byte("q/x")) }); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Get([]byte("q/x")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted key: %v", err)
	}
}

func TestSecondOpenFails(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db2, err := Open(dir, Options{}); err == nil {
		db2.Close()
		t.Fatal("a second Open of the same dir succeeded")
	}
}

func TestWriteBatchLarge(t *testing.T) {
	db, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const n = 200000 // well past one transaction's limit
	err = db.WriteBatch(func(b *Batch) error {
		for i := 0; i < n; i++ {
			if err := b.Set([]byte(fmt.Sprintf("b/%08d", i)), make([]byte, 8)); err != nil {
				return err
			}
		}
		return b.Delete([]byte("b/00000000"))
	})
	if err != nil {
		t.Fatal(err)
	}
	count := 0
	db.View(func(tx *Txn) error {
		return tx.Scan([]byte("b/"), nil, func(k, v []byte) error { count++; return nil })
	})
	if count != n-1 {
		t.Fatalf("%d keys, want %d", count, n-1)
	}
}

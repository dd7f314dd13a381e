package blockdev

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/ebs-dev/ebs/blockdev/store"
	"github.com/ebs-dev/ebs/internal/kv"
	"github.com/ebs-dev/ebs/kmsclient"
)

// TestImpairedVolume: an fdatasync of the extents fails under an attached
// volume's writes. The volume's fsync reports it, and so does every later
// fsync, write and read (I/O disabled, as EBS does), even with the disk
// working again; DescribeVolumeStatus shows it impaired. EnableVolumeIO,
// or a detach and an attach, opens it again on what was durable.
func TestImpairedVolume(t *testing.T) {
	ctx := kmsclient.WithCaller(context.Background(), kmsclient.RootCaller("000000000000"))
	dir := t.TempDir()
	db, err := kv.Open(filepath.Join(dir, "meta"), kv.Options{Logger: testLogger()})
	must(t, err)
	defer db.Close()
	var failing atomic.Bool
	st, err := store.Open(filepath.Join(dir, "blocks"), db, store.Options{Logger: testLogger(), FlushInterval: -1,
		Fdatasync: func(f *os.File) error {
			if failing.Load() {
				return syscall.EIO
			}
			return f.Sync()
		}})
	must(t, err)
	defer st.Close()
	m := NewManager(Config{DB: db, Store: st, Region: "us-east-1", Account: "000000000000", Logger: testLogger()})
	defer m.Close()
	info, err := m.Create(ctx, &CreateVolumeInput{Size: 1})
	must(t, err)
	id := info.VolumeID
	v, err := m.Attach(ctx, id, "/dev/sdf")
	must(t, err)

	durable, lost := bytes.Repeat([]byte("D"), BlockSize), bytes.Repeat([]byte("L"), BlockSize)
	_, err = v.WriteAt(durable, 0)
	must(t, err)
	must(t, v.Sync())
	wantStatus(t, m, id, "ok")

	_, err = v.WriteAt(lost, BlockSize) // a fresh block
	must(t, err)
	failing.Store(true)
	if err := v.Sync(); !errors.Is(err, syscall.EIO) || !errors.Is(err, store.ErrImpaired) {
		t.Fatalf("fsync over a failed fdatasync: %v, want EIO (impaired)", err)
	}
	failing.Store(false)
	if err := v.Sync(); !errors.Is(err, store.ErrImpaired) {
		t.Fatalf("the next fsync: %v, want it to fail too", err)
	}
	if _, err := v.WriteAt(lost, 2*BlockSize); !errors.Is(err, store.ErrImpaired) {
		t.Fatalf("write: %v, want ErrImpaired", err)
	}
	if _, err := v.ReadAt(make([]byte, BlockSize), 0); !errors.Is(err, store.ErrImpaired) {
		t.Fatalf("read: %v, want ErrImpaired", err)
	}
	wantStatus(t, m, id, "impaired")

	must(t, m.EnableVolumeIO(ctx, id))
	wantStatus(t, m, id, "ok")
	wantData(t, v, 0, durable)
	wantData(t, v, BlockSize, make([]byte, BlockSize)) // its sync failed: not in the map
	_, err = v.WriteAt(lost, BlockSize)
	must(t, err)
	must(t, v.Sync())

	failing.Store(true)
	_, err = v.WriteAt(durable, 3*BlockSize)
	must(t, err)
	if err := v.Sync(); !errors.Is(err, store.ErrImpaired) {
		t.Fatalf("fsync: %v, want ErrImpaired", err)
	}
	failing.Store(false)
	if _, err := m.Detach(ctx, id); err != nil {
		t.Fatalf("detach of an impaired volume: %v", err)
	}
	v, err = m.Attach(ctx, id, "/dev/sdf")
	must(t, err)
	wantStatus(t, m, id, "ok")
	wantData(t, v, BlockSize, lost)
	wantData(t, v, 3*BlockSize, make([]byte, BlockSize))
}

func wantStatus(t *testing.T, m *Manager, id, want string) {
	t.Helper()
	out, err := m.DescribeVolumeStatus(context.Background(), &DescribeVolumeStatusInput{VolumeIDs: []string{id}})
	must(t, err)
	st := out.VolumeStatuses[0]
	io := st.VolumeStatus.Details[0]
	if st.VolumeStatus.Status != want || io.Name != "io-enabled" || (io.Status == "failed") != (want == "impaired") ||
		(len(st.Events) == 1) != (want == "impaired") || (len(st.Actions) == 1) != (want == "impaired") {
		t.Fatalf("status %+v, want %s", st, want)
	}
}

func wantData(t *testing.T, v *Volume, off int64, want []byte) {
	t.Helper()
	got := make([]byte, len(want))
	_, err := v.ReadAt(got, off)
	must(t, err)
	if !bytes.Equal(got, want) {
		t.Fatalf("at %d: read %q..., want %q...", off, got[:8], want[:8])
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

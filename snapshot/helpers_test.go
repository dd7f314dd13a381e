package snapshot

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ebs-dev/ebs/blockdev"
	"github.com/ebs-dev/ebs/blockdev/store"
	"github.com/ebs-dev/ebs/internal/clock"
	"github.com/ebs-dev/ebs/internal/kv"
	"github.com/ebs-dev/ebs/kmsclient"
	"github.com/ebs-dev/ebs/kmsclient/audit"
	"github.com/ebs-dev/ebs/kmsclient/embedded"
)

const (
	testAccount = "000000000000"
	testRegion  = "us-east-1"
)

// stack is the daemon's stack without the mount and the API: the embedded
// KMS with its audit trail, one badger DB for the block map, the volume
// records and the catalogue, the block store, the volume manager and the
// snapshot service. It can be closed in the daemon's order and opened again
// on the same dirs.
type stack struct {
	t     testing.TB
	dir   string
	ctx   context.Context
	trail *audit.Trail
	kms   *embedded.KMS
	meta  *kv.DB
	st    *store.Store
	vols  *blockdev.Manager
	snaps *Service
	clock *clock.Offset // the daemon's clock: tests move it forward
	// onDecrypt, if set, runs before each Decrypt the volume layer asks
	// of the KMS (the copies unwrap their data keys with it): a test holds
	// a copy there.
	onDecrypt atomic.Pointer[func(encCtx map[string]string)]
}

// hookedKMS is the embedded KMS with the stack's onDecrypt hook in front of
// Decrypt.
type hookedKMS struct {
	blockdev.KMS
	s *stack
}

func (k hookedKMS) Decrypt(ctx context.Context, in *kmsclient.DecryptInput) (*kmsclient.DecryptOutput, error) {
	if h := k.s.onDecrypt.Load(); h != nil {
		(*h)(in.EncryptionContext)
	}
	return k.KMS.Decrypt(ctx, in)
}

func newStack(t testing.TB) *stack {
	t.Helper()
	s := &stack{t: t, dir: t.TempDir(), ctx: kmsclient.WithCaller(context.Background(), kmsclient.RootCaller(testAccount)),
		clock: clock.NewOffset(0)}
	s.open()
	t.Cleanup(func() {
		if s.snaps != nil {
			s.close()
		}
	})
	return s
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func (s *stack) open() {
	t := s.t
	t.Helper()
	log := quietLogger()
	var err error
	if s.trail, err = audit.Open(filepath.Join(s.dir, "cloudtrail", "events.jsonl")); err != nil {
		t.Fatal(err)
	}
	s.kms, err = embedded.Open(embedded.Options{Dir: filepath.Join(s.dir, "kms"), Region: testRegion, Account: testAccount,
		Trail: s.trail, Logger: log, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	if s.meta, err = kv.Open(filepath.Join(s.dir, "meta"), kv.Options{Logger: log}); err != nil {
		t.Fatal(err)
	}
	if s.st, err = store.Open(filepath.Join(s.dir, "blocks"), s.meta, store.Options{Logger: log, FlushInterval: -1}); err != nil {
		t.Fatal(err)
	}
	s.vols = blockdev.NewManager(blockdev.Config{DB: s.meta, Store: s.st, KMS: hookedKMS{s.kms, s}, Region: testRegion, Account: testAccount, Logger: log, Clock: s.clock})
	s.snaps = New(Config{DB: s.meta, Store: s.st, Volumes: s.vols, Account: testAccount, Logger: log, Clock: s.clock})
	s.kms.SetDeletionGuard(s.snaps.KeyUsers)
	if err := s.snaps.Start(s.ctx); err != nil {
		t.Fatal(err)
	}
}

// close shuts the stack down top down, as the daemon does: the volumes
// stay attached in their records.
func (s *stack) close() {
	t := s.t
	t.Helper()
	for _, c := range []struct {
		what string
		fn   func() error
	}{{"snapshots", s.snaps.Close}, {"volumes", s.vols.Close}, {"store", s.st.Close}, {"meta", s.meta.Close}, {"kms", s.kms.Close}, {"trail", s.trail.Close}} {
		if err := c.fn(); err != nil {
			t.Errorf("close %s: %v", c.what, err)
		}
	}
	s.snaps = nil
}

// reopen closes everything and opens it again; the volumes attached before
// are attached again (Manager.Reopen) and returned by id.
func (s *stack) reopen() map[string]*blockdev.Volume {
	s.t.Helper()
	s.close()
	s.open()
	vols, err := s.vols.Reopen(s.ctx)
	if err != nil {
		s.t.Fatalf("reopen volumes: %v", err)
	}
	out := map[string]*blockdev.Volume{}
	for _, v := range vols {
		out[v.ID()] = v
	}
	return out
}

func (s *stack) createKey(desc string) string {
	s.t.Helper()
	out, err := s.kms.CreateKey(s.ctx, &kmsclient.CreateKeyInput{Description: desc})
	if err != nil {
		s.t.Fatal(err)
	}
	return out.KeyMetadata.Arn
}

func ptr[T any](v T) *T { return &v }

func (s *stack) createVolume(sizeGiB int64, encrypted bool, keyID string) string {
	s.t.Helper()
	in := &blockdev.CreateVolumeInput{Size: sizeGiB}
	if encrypted {
		in.Encrypted, in.KmsKeyID = ptr(true), keyID
	}
	out, err := s.vols.Create(s.ctx, in)
	if err != nil {
		s.t.Fatal(err)
	}
	return out.VolumeID
}

func (s *stack) attach(id string) *blockdev.Volume {
	s.t.Helper()
	v, err := s.vols.Attach(s.ctx, id, "/dev/test-"+id)
	if err != nil {
		s.t.Fatalf("attach %s: %v", id, err)
	}
	return v
}

func (s *stack) detach(id string) {
	s.t.Helper()
	if _, err := s.vols.Detach(s.ctx, id); err != nil {
		s.t.Fatalf("detach %s: %v", id, err)
	}
}

func (s *stack) deleteVolume(id string) {
	s.t.Helper()
	if err := s.vols.Delete(s.ctx, id); err != nil {
		s.t.Fatalf("delete %s: %v", id, err)
	}
}

func (s *stack) snapshot(volID string) string {
	s.t.Helper()
	out, err := s.snaps.CreateSnapshot(s.ctx, &CreateSnapshotInput{VolumeID: volID})
	if err != nil {
		s.t.Fatalf("snapshot %s: %v", volID, err)
	}
	return out.SnapshotID
}

func (s *stack) deleteSnapshot(id string) {
	s.t.Helper()
	if _, err := s.snaps.DeleteSnapshot(s.ctx, &SnapshotIDInput{SnapshotID: id}); err != nil {
		s.t.Fatalf("delete %s: %v", id, err)
	}
}

func (s *stack) describe(id string) Snapshot {
	s.t.Helper()
	out, err := s.snaps.DescribeSnapshots(s.ctx, &DescribeSnapshotsInput{SnapshotIDs: []string{id}})
	if err != nil {
		s.t.Fatalf("describe %s: %v", id, err)
	}
	return out.Snapshots[0]
}

// waitCopy polls DescribeSnapshots until the copy is no longer pending and
// fails the test unless it completed.
func (s *stack) waitCopy(id string) Snapshot {
	s.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		d := s.describe(id)
		switch d.State {
		case stateCompleted:
			return d
		case stateError:
			s.t.Fatalf("copy %s failed: %s", id, d.StateMessage)
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("copy %s still %s (%s) after a minute", id, d.State, d.Progress)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (s *stack) copySnapshot(in *CopySnapshotInput) string {
	s.t.Helper()
	out, err := s.snaps.CopySnapshot(s.ctx, in)
	if err != nil {
		s.t.Fatalf("copy %s: %v", in.SourceSnapshotID, err)
	}
	s.waitCopy(out.SnapshotID)
	return out.SnapshotID
}

// usedBlocks flushes the store (freed slots count until the next commit)
// and returns the slots in use.
func (s *stack) usedBlocks() uint64 {
	s.t.Helper()
	if err := s.st.Flush(); err != nil {
		s.t.Fatal(err)
	}
	return s.st.UsedBlocks()
}

// mappedSlots counts the distinct slots the durable block map points at,
// reading the store's keys directly ("m" | lineage | block | ^birth -> slot,
// see blockdev/store/mapkey.go), and the keys of each store key space.
func (s *stack) mappedSlots() (slots int, keys map[byte]int) {
	s.t.Helper()
	seen := map[uint64]bool{}
	keys = map[byte]int{}
	err := s.meta.View(func(tx *kv.Txn) error {
		for _, p := range []byte{'m', 'c', 'p', 'l', 'g'} {
			err := tx.Scan([]byte{p}, nil, func(k, v []byte) error {
				keys[p]++
				if p == 'm' && len(k) == 25 && len(v) == 8 {
					if slot := binary.BigEndian.Uint64(v); slot != 0 {
						seen[slot] = true
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return len(seen), keys
}

// holders counts the pins on the view of lineage at gen (snapshots,
// lineages made from it, a copy in progress), from the store's pin keys
// ("p" | lineage | gen | holder, see blockdev/store/mapkey.go).
// With gen 0, it counts the pins on every view of the lineage.
func (s *stack) holders(lineage, gen uint64) int {
	s.t.Helper()
	prefix := binary.BigEndian.AppendUint64([]byte{'p'}, lineage)
	if gen != 0 {
		prefix = binary.BigEndian.AppendUint64(prefix, gen)
	}
	n := 0
	err := s.meta.View(func(tx *kv.Txn) error {
		return tx.Scan(prefix, nil, func(_, _ []byte) error { n++; return nil })
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return n
}

// checkAccounting: the allocator counts exactly the slots the map uses.
func (s *stack) checkAccounting(when string) {
	s.t.Helper()
	used := s.usedBlocks()
	if slots, _ := s.mappedSlots(); uint64(slots) != used {
		s.t.Errorf("%s: UsedBlocks = %d, but the block map points at %d slots", when, used, slots)
	}
}

// readSnapshot reads the first len(buf) bytes of a completed snapshot
// through its store view and its data key.
func (s *stack) readSnapshot(id string, buf []byte) []byte {
	s.t.Helper()
	r, err := s.snaps.get(id)
	if err != nil {
		s.t.Fatal(err)
	}
	if r.State != stateCompleted {
		s.t.Fatalf("snapshot %s is %s", id, r.State)
	}
	src := r.Source
	v, err := s.st.OpenView(src.Lineage, src.Gen, uint64(src.SizeGiB)<<30/store.BlockSize)
	if err != nil {
		s.t.Fatal(err)
	}
	var c blockdev.SectorCipher
	if src.Encrypted {
		if c, err = s.vols.UnwrapKey(s.ctx, src.KmsKeyArn, src.WrappedKey, src.KeyContext); err != nil {
			s.t.Fatalf("unwrap the key of %s: %v", id, err)
		}
		defer c.Close()
	}
	mapped := make([]bool, len(buf)/store.BlockSize)
	if err := v.ReadBlocks(0, buf, mapped); err != nil {
		s.t.Fatal(err)
	}
	for i, m := range mapped {
		if m && c != nil {
			b := buf[i*store.BlockSize : (i+1)*store.BlockSize]
			if err := c.Decrypt(b, b, uint64(i)); err != nil {
				s.t.Fatal(err)
			}
		}
	}
	return buf
}

// restore reads the first len(buf) bytes of a snapshot the way a user
// would: a new volume from it, attached, read, detached and deleted.
func (s *stack) restore(id string, buf []byte) []byte {
	s.t.Helper()
	out, err := s.snaps.CreateVolume(s.ctx, &blockdev.CreateVolumeInput{SnapshotID: id})
	if err != nil {
		s.t.Fatalf("create volume from %s: %v", id, err)
	}
	v := s.attach(out.VolumeID)
	readChunks(s.t, v, buf)
	s.detach(out.VolumeID)
	s.deleteVolume(out.VolumeID)
	return buf
}

// readChunks fills buf from offset 0 of v in reads of 512 KiB (the
// volume's buffers are pooled up to 1 MiB; larger reads allocate).
func readChunks(t testing.TB, v *blockdev.Volume, buf []byte) {
	t.Helper()
	for off := 0; off < len(buf); off += 512 << 10 {
		end := min(off+512<<10, len(buf))
		if n, err := v.ReadAt(buf[off:end], int64(off)); err != nil || n != end-off {
			t.Fatalf("read %s at %d: %d, %v", v.ID(), off, n, err)
		}
	}
}

// firstDiff describes where two byte slices first differ.
func firstDiff(got, want []byte) string {
	if len(got) != len(want) {
		return fmt.Sprintf("length %d, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			j := i
			for j < len(got) && got[j] != want[j] {
				j++
			}
			return fmt.Sprintf("first difference at byte %d (block %d, +%d): %d bytes differ from there; got %x.., want %x..",
				i, i/store.BlockSize, i%store.BlockSize, j-i, got[i:min(i+8, len(got))], want[i:min(i+8, len(want))])
		}
	}
	return "equal"
}

func sameBytes(got, want []byte) bool { return bytes.Equal(got, want) }

func isKind(err, kind error) bool { return err != nil && errors.Is(err, kind) }

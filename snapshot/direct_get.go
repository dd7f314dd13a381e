package snapshot

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ebs-dev/ebs/blockdev"
	"github.com/ebs-dev/ebs/blockdev/store"
	"github.com/ebs-dev/ebs/internal/awserr"
)

// GetSnapshotBlock reads one 512 KiB block of a completed snapshot, named
// by a block token from ListSnapshotBlocks or ListChangedBlocks, decrypted,
// with the base64 SHA-256 of the data.
func (s *Service) GetSnapshotBlock(ctx context.Context, in *GetSnapshotBlockInput) (*GetSnapshotBlockOutput, error) {
	s.blocksMu.RLock() // the snapshot's blocks are not freed while they are read
	defer s.blocksMu.RUnlock()
	r, v, err := s.view(in.SnapshotID)
	if err != nil {
		return nil, err
	}
	if in.BlockToken == "" {
		return nil, awserr.New(ErrInvalidBlockToken, "The block token is required.")
	}
	if err := CheckBlockToken(in.BlockToken, r.ID, in.BlockIndex, s.cfg.Clock.Now()); err != nil {
		return nil, err
	}
	lba := uint64(in.BlockIndex) * blocksPerDirect
	if in.BlockIndex < 0 || lba+blocksPerDirect > v.Blocks() {
		return nil, awserr.New(ErrInvalidBlock, "Block index %d is beyond the end of snapshot %s.", in.BlockIndex, r.ID)
	}
	c, release, err := s.cipherFor(ctx, r)
	if err != nil {
		return nil, err
	}
	defer release()
	data := make([]byte, directBlockSize)
	mapped := make([]bool, blocksPerDirect)
	if err := v.ReadBlocks(lba, data, mapped); err != nil {
		s.cfg.Logger.Error("snapshot block read failed", "snapshot", r.ID, "block", in.BlockIndex, "err", err)
		return nil, fmt.Errorf("read block %d of %s: %w", in.BlockIndex, r.ID, err)
	}
	if err := blockdev.DecryptBlocks(c, lba, data, mapped); err != nil {
		return nil, fmt.Errorf("snapshot %s block %d: %w", r.ID, in.BlockIndex, err)
	}
	sum := sha256.Sum256(data)
	return &GetSnapshotBlockOutput{BlockData: data, DataLength: directBlockSize,
		Checksum: base64.StdEncoding.EncodeToString(sum[:]), ChecksumAlgorithm: ChecksumSHA256}, nil
}

// keyCacheTTL is how long a data key unwrapped for a caller serves that
// caller's block reads and writes of a snapshot without another KMS
// Decrypt (daemon clock). Each caller has its own entry, so each is
// checked against the key policy and audited at least once per period.
const keyCacheTTL = 5 * time.Minute

// keyCache holds the data keys of snapshots being read or written block
// by block, by snapshot and caller.
type keyCache struct {
	mu sync.Mutex
	m  map[string]*cachedKey // snapshot id + "|" + caller ARN
}

type cachedKey struct {
	c    blockdev.SectorCipher
	used time.Time
	refs int
	dead bool // dropped from the cache: closed when the last user is done
}

// cipherFor returns the cipher of an encrypted snapshot's data key (nil if
// unencrypted), unwrapped through EC2 as the caller, and a function to call
// when done with it.
func (s *Service) cipherFor(ctx context.Context, r *record) (blockdev.SectorCipher, func(), error) {
	if !r.Source.Encrypted {
		return nil, func() {}, nil
	}
	key := r.ID + "|" + callerOf(ctx).ARN
	now := s.cfg.Clock.Now()
	kc := &s.keys
	kc.mu.Lock()
	if e := kc.m[key]; e != nil && now.Sub(e.used) < keyCacheTTL {
		e.refs++
		e.used = now
		kc.mu.Unlock()
		return e.c, kc.releaser(e), nil
	}
	kc.mu.Unlock()
	c, err := s.cfg.Volumes.UnwrapKey(ctx, r.Source.KmsKeyArn, r.Source.WrappedKey, r.Source.KeyContext)
	if err != nil {
		return nil, nil, err
	}
	e := &cachedKey{c: c, used: now, refs: 1}
	kc.mu.Lock()
	if old := kc.m[key]; old != nil {
		kc.kill(old)
	}
	kc.m[key] = e
	kc.mu.Unlock()
	return c, kc.releaser(e), nil
}

func (kc *keyCache) releaser(e *cachedKey) func() {
	return func() {
		kc.mu.Lock()
		defer kc.mu.Unlock()
		e.refs--
		if e.dead && e.refs == 0 {
			e.c.Close()
		}
	}
}

// kill drops e: its key is zeroed now, or when its last user is done.
func (kc *keyCache) kill(e *cachedKey) {
	e.dead = true
	if e.refs == 0 {
		e.c.Close()
	}
}

// drop forgets the keys of snapshot id ("" for every snapshot).
func (kc *keyCache) drop(id string) {
	kc.mu.Lock()
	defer kc.mu.Unlock()
	for k, e := range kc.m {
		if id == "" || strings.HasPrefix(k, id+"|") {
			delete(kc.m, k)
			kc.kill(e)
		}
	}
}

func (kc *keyCache) evictIdle(now time.Time) {
	kc.mu.Lock()
	defer kc.mu.Unlock()
	for k, e := range kc.m {
		if now.Sub(e.used) >= keyCacheTTL {
			delete(kc.m, k)
			kc.kill(e)
		}
	}
}

// viewCacheSize is how many block maps of completed snapshots are kept in
// memory for the EBS direct reads, which would otherwise load a snapshot's
// map on every call.
const viewCacheSize = 8

type viewCache struct {
	mu      sync.Mutex
	entries []viewEntry // most recently used last
}

type viewEntry struct {
	id           string
	lineage, gen uint64
	v            *store.View
}

// get returns the cached view of snapshot id at (lineage, gen), or opens
// and caches it.
func (vc *viewCache) get(st *store.Store, id string, src blockdev.SourceInfo) (*store.View, error) {
	vc.mu.Lock()
	for i, e := range vc.entries {
		if e.id == id && e.lineage == src.Lineage && e.gen == src.Gen {
			vc.entries = append(append(vc.entries[:i:i], vc.entries[i+1:]...), e)
			vc.mu.Unlock()
			return e.v, nil
		}
	}
	vc.mu.Unlock()
	v, err := st.OpenView(src.Lineage, src.Gen, uint64(src.SizeGiB)<<30/store.BlockSize)
	if err != nil {
		return nil, err
	}
	vc.mu.Lock()
	defer vc.mu.Unlock()
	vc.dropLocked(id)
	if len(vc.entries) == viewCacheSize {
		vc.entries = vc.entries[1:]
	}
	vc.entries = append(vc.entries, viewEntry{id: id, lineage: src.Lineage, gen: src.Gen, v: v})
	return v, nil
}

func (vc *viewCache) drop(id string) {
	vc.mu.Lock()
	defer vc.mu.Unlock()
	vc.dropLocked(id)
}

func (vc *viewCache) dropLocked(id string) {
	for i, e := range vc.entries {
		if e.id == id {
			vc.entries = append(vc.entries[:i:i], vc.entries[i+1:]...)
			return
		}
	}
}

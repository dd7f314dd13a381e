package snapshot

import (
	"encoding/binary"

	"crypto/sha256"
	"encoding/base64"
	"github.com/ebs-dev/ebs/internal/kv"
	"math/rand/v2"
	"slices"
	"testing"
)

// directBlock is a 512 KiB block of pseudo-random bytes (seed 0: zeros).
func directBlock(seed uint64) []byte {
	b := make([]byte, directBlockSize)
	if seed == 0 {
		return b
	}
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for i := 0; i < len(b); i += 8 {
		v := r.Uint64()
		for k := range 8 {
			b[i+k] = byte(v >> (8 * k))
		}
	}
	return b
}

func sum64(b []byte) string {
	s := sha256.Sum256(b)
	return base64.StdEncoding.EncodeToString(s[:])
}

// linear is the LINEAR aggregate checksum of blocks by index.
func linear(blocks map[int64][]byte) string {
	idx := make([]int64, 0, len(blocks))
	for i := range blocks {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	h := sha256.New()
	for _, i := range idx {
		s := sha256.Sum256(blocks[i])
		h.Write(s[:])
	}
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

func (s *stack) start(in *StartSnapshotInput) *StartSnapshotOutput {
	s.t.Helper()
	out, err := s.snaps.StartSnapshot(s.ctx, in)
	if err != nil {
		s.t.Fatalf("start snapshot: %v", err)
	}
	return out
}

func putInput(id string, index int64, data []byte) *PutSnapshotBlockInput {
	return &PutSnapshotBlockInput{SnapshotID: id, BlockIndex: index, BlockData: data, DataLength: int64(len(data)),
		Checksum: sum64(data), ChecksumAlgorithm: ChecksumSHA256}
}

func (s *stack) put(id string, index int64, data []byte) {
	s.t.Helper()
	out, err := s.snaps.PutSnapshotBlock(s.ctx, putInput(id, index, data))
	if err != nil {
		s.t.Fatalf("put block %d of %s: %v", index, id, err)
	}
	if out.Checksum != sum64(data) || out.ChecksumAlgorithm != ChecksumSHA256 {
		s.t.Errorf("put block %d: answer %+v, want the checksum sent back", index, out)
	}
}

func (s *stack) complete(id string, blocks map[int64][]byte) {
	s.t.Helper()
	out, err := s.snaps.CompleteSnapshot(s.ctx, &CompleteSnapshotInput{SnapshotID: id, ChangedBlocksCount: int64(len(blocks)),
		Checksum: linear(blocks), ChecksumAlgorithm: ChecksumSHA256, ChecksumAggregationMethod: AggregationLinear})
	if err != nil {
		s.t.Fatalf("complete %s: %v", id, err)
	}
	if out.Status != stateCompleted {
		s.t.Fatalf("complete %s: status %s", id, out.Status)
	}
}

// upload writes blocks to a new snapshot of sizeGiB and completes it.
func (s *stack) upload(in *StartSnapshotInput, blocks map[int64][]byte) string {
	s.t.Helper()
	id := s.start(in).SnapshotID
	for i, b := range blocks {
		s.put(id, i, b)
	}
	s.complete(id, blocks)
	return id
}

// listed returns the block indexes ListSnapshotBlocks gives and their tokens.
func (s *stack) listed(id string) ([]int64, map[int64]string) {
	s.t.Helper()
	var idx []int64
	tokens := map[int64]string{}
	in := &ListSnapshotBlocksInput{SnapshotID: id, MaxResults: 100}
	for {
		out, err := s.snaps.ListSnapshotBlocks(s.ctx, in)
		if err != nil {
			s.t.Fatalf("list blocks of %s: %v", id, err)
		}
		for _, b := range out.Blocks {
			idx = append(idx, b.BlockIndex)
			tokens[b.BlockIndex] = b.BlockToken
		}
		if out.NextToken == "" {
			return idx, tokens
		}
		in.NextToken = out.NextToken
	}
}

func (s *stack) getBlock(id string, index int64, token string) []byte {
	s.t.Helper()
	out, err := s.snaps.GetSnapshotBlock(s.ctx, &GetSnapshotBlockInput{SnapshotID: id, BlockIndex: index, BlockToken: token})
	if err != nil {
		s.t.Fatalf("get block %d of %s: %v", index, id, err)
	}
	if out.DataLength != directBlockSize || len(out.BlockData) != directBlockSize || out.Checksum != sum64(out.BlockData) {
		s.t.Fatalf("get block %d of %s: length %d/%d, checksum %s (want %s)", index, id, out.DataLength, len(out.BlockData), out.Checksum, sum64(out.BlockData))
	}
	return out.BlockData
}

func sortedKeys(m map[int64][]byte) []int64 {
	out := make([]int64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func mustFail(t *testing.T, what string, err, kind error) {
	t.Helper()
	if !isKind(err, kind) {
		t.Errorf("%s: err = %v, want %v", what, err, kind)
	}
}

// sums lists the block indexes whose checksums an upload keeps.
func (s *stack) sums(id string) []int64 {
	s.t.Helper()
	var idx []int64
	err := s.meta.View(func(tx *kv.Txn) error {
		return tx.Scan(sumPrefix(id), nil, func(k, _ []byte) error {
			idx = append(idx, int64(binary.BigEndian.Uint64(k[len(k)-8:])))
			return nil
		})
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return idx
}

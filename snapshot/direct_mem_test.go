package snapshot

import (
	"runtime"
	"testing"
)

// TestPendingUploadMemory: the memory a pending upload holds follows the
// blocks put into it, not its VolumeSize. Each of 40 uploads of the largest
// size (16 TiB) gets its first and last block; the heap they keep must stay
// under 1 MiB an upload. The block-map table was sized by VolumeSize (one
// 8-byte pointer per 4096 blocks: 8 MiB per 16 TiB upload, 320 MiB for
// these 40); it is now allocated as blocks are put (measured here: a few
// tens of KiB per upload, the limit leaves a wide margin).
func TestPendingUploadMemory(t *testing.T) {
	s := newStack(t)
	const uploads = 40
	last := int64(maxUploadGiB)<<30/directBlockSize - 1
	block := directBlock(1)
	ids := make([]string, 0, uploads)
	before := heapInUse()
	for range uploads {
		id := s.start(&StartSnapshotInput{VolumeSize: maxUploadGiB}).SnapshotID
		s.put(id, 0, block)
		s.put(id, last, block)
		ids = append(ids, id)
	}
	grown := int64(heapInUse()) - int64(before)
	for _, id := range ids {
		if s.snaps.openedUpload(id) == nil {
			t.Fatalf("upload %s is not open: nothing was measured", id)
		}
	}
	t.Logf("%d pending 16 TiB uploads, 2 blocks each: heap +%.1f MiB", uploads, float64(grown)/(1<<20))
	if limit := int64(uploads) << 20; grown > limit {
		t.Fatalf("%d pending uploads of %d GiB with 2 blocks each hold %d MiB of heap, more than %d MiB",
			uploads, maxUploadGiB, grown>>20, limit>>20)
	}
}

// heapInUse is the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

package blockdev

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkVolumeRandWrite4K measures the data path below FUSE: 4 KiB
// writes at random aligned offsets of a pre-filled encrypted volume (in
// place, as after a mkfs), from parallel goroutines.
func BenchmarkVolumeRandWrite4K(b *testing.B) {
	benchVolume(b, func(tv *testVolume, r *rand.Rand, buf []byte) error {
		_, err := tv.v.WriteAt(buf, r.Int64N(tv.size/BlockSize)*BlockSize)
		return err
	})
}

// BenchmarkVolumeRandRead4K is the same for reads.
func BenchmarkVolumeRandRead4K(b *testing.B) {
	benchVolume(b, func(tv *testVolume, r *rand.Rand, buf []byte) error {
		_, err := tv.v.ReadAt(buf, r.Int64N(tv.size/BlockSize)*BlockSize)
		return err
	})
}

func benchVolume(b *testing.B, op func(*testVolume, *rand.Rand, []byte) error) {
	tv := newTestVolumeB(b, 64<<20)
	fill := make([]byte, 1<<20)
	for off := int64(0); off < tv.size; off += int64(len(fill)) {
		if _, err := tv.v.WriteAt(fill, off); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(BlockSize)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := rand.New(rand.NewPCG(rand.Uint64(), 1))
		buf := make([]byte, BlockSize)
		for pb.Next() {
			if err := op(tv, r, buf); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

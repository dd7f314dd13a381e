package store

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// The block map's benchmarks: the in-memory table a volume's head reads and
// writes (lookup, insert), and what an insert costs once it is persisted
// (the data write, the badger commit and its sync), and what loading a
// lineage's map costs when a volume is attached. Run them with
//
//	go test -run XXX -bench . ./blockdev/store/

// benchTableBlocks is a 1 TiB volume: 2^28 blocks, 64 Ki chunks.
const benchTableBlocks = 1 << 28

// BenchmarkTableGet looks up random blocks of a table whose first 1 GiB is
// mapped (hits) and of the unmapped rest (misses: a nil chunk).
func BenchmarkTableGet(b *testing.B) {
	t := newTable(benchTableBlocks)
	const mapped = 1 << 18
	for lba := uint64(0); lba < mapped; lba++ {
		t.set(lba, entry{slot: lba + 1, birth: 1})
	}
	for _, c := range []struct {
		name   string
		lo, hi uint64
	}{{"hit", 0, mapped}, {"miss", mapped, benchTableBlocks}} {
		b.Run(c.name, func(b *testing.B) {
			lbas := randomLBAs(c.lo, c.hi)
			var found int
			i := 0
			for b.Loop() {
				if _, ok := t.get(lbas[i&(len(lbas)-1)]); ok {
					found++
				}
				i++
			}
			if c.name == "hit" && found != i {
				b.Fatalf("%d of %d lookups found", found, i)
			}
		})
	}
}

// BenchmarkTableSet inserts entries into a table. "warm": at random blocks
// of a 16 GiB table whose chunks are all allocated (a volume overwriting
// blocks it has written). "fresh": each insert is the first of its chunk and
// allocates it (a thin volume's first write to a 16 MiB region); the table
// is replaced, untimed, once all its chunks are allocated.
func BenchmarkTableSet(b *testing.B) {
	const blocks = 1 << 22 // 16 GiB, 1024 chunks (32 MiB)
	b.Run("warm", func(b *testing.B) {
		t := newTable(blocks)
		for lba := uint64(0); lba < blocks; lba += 1 << chunkBits {
			t.set(lba, entry{slot: 1, birth: 1})
		}
		lbas := randomLBAs(0, blocks)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			t.set(lbas[i&(len(lbas)-1)], entry{slot: uint64(i) + 1, birth: 1})
			i++
		}
	})
	b.Run("fresh", func(b *testing.B) {
		const chunks = blocks >> chunkBits
		t := newTable(blocks)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if i == chunks {
				b.StopTimer()
				t, i = newTable(blocks), 0
				b.StartTimer()
			}
			t.set(uint64(i)<<chunkBits, entry{slot: uint64(i) + 1, birth: 1})
			i++
		}
	})
}

// randomLBAs is 2^16 random block numbers in [lo, hi).
func randomLBAs(lo, hi uint64) []uint64 {
	r := rand.New(rand.NewPCG(1, 2))
	lbas := make([]uint64, 1<<16)
	for i := range lbas {
		lbas[i] = lo + r.Uint64N(hi-lo)
	}
	return lbas
}

// BenchmarkWriteFlush is a map insert as a volume pays for it: n 4 KiB
// writes to blocks not written before (each a new slot and a new map entry),
// then Flush (fdatasync of the extents, the badger commit of the n entries
// and their change-index keys, badger's sync). One op is the n writes and
// the flush; ns/insert is per block; flush-us is the Flush call alone.
func BenchmarkWriteFlush(b *testing.B) {
	for _, n := range []int{1, 64, 1024, 16384} {
		b.Run(fmt.Sprintf("blocks=%d", n), func(b *testing.B) {
			ts := newTestStore(b)
			l := newHead(b, ts.s, benchTableBlocks)
			defer func() { must(b, l.Close()) }()
			buf := make([]byte, BlockSize)
			var next uint64 // every block written once: always a new entry
			var flush time.Duration
			b.SetBytes(int64(n) * BlockSize)
			for b.Loop() {
				for range n {
					must(b, l.WriteBlocks(next%benchTableBlocks, buf))
					next += 7 // not contiguous: one entry and one pwrite per block
				}
				start := time.Now()
				must(b, ts.s.Flush())
				flush += time.Since(start)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/insert")
			b.ReportMetric(float64(flush.Microseconds())/float64(b.N), "flush-us")
		})
	}
}

// BenchmarkMapCommit is the badger part of an insert alone: n map entries
// (and their change-index keys) written in one batch, then badger's sync,
// as flushOnce does it, without the data or the fdatasync of the extents.
func BenchmarkMapCommit(b *testing.B) {
	for _, n := range []int{1, 64, 1024, 16384} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			ts := newTestStore(b)
			var next uint64
			for b.Loop() {
				p := make(map[mapRef]uint64, n)
				for range n {
					next++
					p[mapRef{lba: next, birth: 1}] = next
				}
				must(b, ts.s.commitBatches([]*Lineage{{id: 1}}, []lineageBatch{{changes: p}}))
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/entry")
		})
	}
}

// BenchmarkOpenView loads the map of a lineage holding n entries (what
// attaching a volume, or reading a snapshot, costs before the first I/O):
// a badger scan of the lineage's keys into a table.
func BenchmarkOpenView(b *testing.B) {
	for _, n := range []int{1 << 12, 1 << 18} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			ts := newTestStore(b)
			const id = 1
			p := make(map[mapRef]uint64, n)
			for lba := range uint64(n) {
				p[mapRef{lba: lba * 3, birth: 1}] = lba + 1
			}
			must(b, ts.s.commitBatches([]*Lineage{{id: id}}, []lineageBatch{{changes: p}}))
			for b.Loop() {
				v, err := ts.s.OpenView(id, 1, benchTableBlocks)
				must(b, err)
				if got := v.Slot(3); got != 2 {
					b.Fatalf("slot of block 3 = %d, want 2", got)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/entry")
		})
	}
}

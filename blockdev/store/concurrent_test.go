package store

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"sync"
	"testing"
)

// TestUnpinWhileWriting: snapshots are deleted (Unpin) while writers write
// and discard their own blocks of the head, and flushes run; snapshots are
// taken between rounds. Every snapshot left, and the head, must read as
// their models, and the allocator must match the map.
func TestUnpinWhileWriting(t *testing.T) {
	const writers, perWriter, rounds, opsPerRound = 4, 8, 12, 40
	for seed := range 3 {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			ts := newTestStore(t)
			l := newHead(t, ts.s, testBlocks)
			heads := make([]map[uint64][]byte, writers) // each writer's blocks
			for w := range heads {
				heads[w] = map[uint64][]byte{}
			}
			type snap struct {
				gen  uint64
				data map[uint64][]byte
			}
			var snaps []snap
			rng := rand.New(rand.NewPCG(uint64(seed), 1))
			tag := uint64(0)
			for round := range rounds {
				var wg sync.WaitGroup
				for w := range writers {
					wg.Add(1)
					r := rand.New(rand.NewPCG(uint64(seed), uint64(round*writers+w)))
					base := tag + uint64(w)*opsPerRound
					go func() {
						defer wg.Done()
						for i := range opsPerRound {
							lba := uint64(w*perWriter + r.IntN(perWriter))
							if r.IntN(4) == 0 {
								if err := l.Discard(lba, 1); err != nil {
									t.Error(err)
									return
								}
								delete(heads[w], lba)
								continue
							}
							b := pattern(base+uint64(i)+1, lba)
							if err := l.WriteBlocks(lba, b); err != nil {
								t.Error(err)
								return
							}
							heads[w][lba] = b
						}
					}()
				}
				tag += writers * opsPerRound
				if len(snaps) > 0 && rng.IntN(3) > 0 { // a snapshot goes meanwhile
					i := rng.IntN(len(snaps))
					gen := snaps[i].gen
					snaps = append(snaps[:i:i], snaps[i+1:]...)
					wg.Add(1)
					go func() {
						defer wg.Done()
						if err := ts.s.Unpin(l.ID(), gen, fmt.Sprint("snap-", gen)); err != nil {
							t.Error(err)
						}
					}()
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range 5 {
						if err := ts.s.Flush(); err != nil {
							t.Error(err)
						}
					}
				}()
				wg.Wait()
				all := map[uint64][]byte{}
				for _, h := range heads {
					maps.Copy(all, h)
				}
				var gen uint64
				must(t, l.Freeze(func(g uint64) error {
					gen = g
					return ts.s.Pin(l.ID(), g, fmt.Sprint("snap-", g))
				}))
				snaps = append(snaps, snap{gen, all})
			}
			lbas := modelLBAs[:writers*perWriter+2]
			wantBlocks(t, "head", l, snaps[len(snaps)-1].data, lbas...)
			must(t, ts.s.Flush())
			for _, sn := range snaps {
				v, err := ts.s.OpenView(l.ID(), sn.gen, testBlocks)
				must(t, err)
				wantBlocks(t, fmt.Sprintf("snapshot at %d", sn.gen), v, sn.data, lbas...)
			}
			ts.checkAccounting("end")
			must(t, l.Close())
			for _, sn := range snaps {
				must(t, ts.s.Unpin(l.ID(), sn.gen, fmt.Sprint("snap-", sn.gen)))
			}
			must(t, ts.s.Unpin(l.ID(), HeadGen, "head"))
			ts.checkAccounting("all gone")
			if got := ts.s.UsedBlocks(); got != 0 {
				t.Errorf("UsedBlocks = %d with every pin gone", got)
			}
		})
	}
}

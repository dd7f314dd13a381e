package store

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
)

// A model-based test of the store: random writes, discards, snapshots
// (freeze + pin), unpins, lineages made from snapshots, volume deletions and
// reopens, checked against plain maps after every few operations; every
// head and every pinned view must read as its model, the allocator must
// count exactly the slots the durable map points at, and once every pin is
// gone nothing may be left.

const modelBlocks = 64 // blocks in play: small, so that they collide

type modelHead struct {
	id     uint64
	gen    uint64
	blocks uint64
	l      *Lineage // nil once deleted
	data   map[uint64][]byte
}

type modelSnap struct {
	lineage, gen uint64
	holder       string
	blocks       uint64
	data         map[uint64][]byte
}

type storeModel struct {
	t     *testing.T
	ts    *testStore
	rng   *rand.Rand
	heads []*modelHead
	snaps []*modelSnap
	tag   uint64
	log   []string
}

func TestStoreModel(t *testing.T) {
	seeds, ops := 8, 200
	if testing.Short() {
		seeds = 4
	}
	if n, err := strconv.Atoi(os.Getenv("MODEL_SEEDS")); err == nil { // for long runs
		seeds = n
	}
	for seed := range seeds {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			m := &storeModel{t: t, ts: newTestStore(t), rng: rand.New(rand.NewPCG(uint64(seed), 7))}
			defer func() {
				if t.Failed() {
					t.Logf("operations:\n%s", joinLines(m.log))
				}
			}()
			m.newHead(0, 0, testBlocks, nil)
			for i := 0; i < ops && !t.Failed(); i++ {
				m.step()
				if i%10 == 9 {
					m.check(fmt.Sprintf("after op %d", i))
				}
			}
			m.check("at the end")
			m.deleteAll()
		})
	}
}

func joinLines(lines []string) string {
	out := ""
	for _, l := range lines {
		out += "  " + l + "\n"
	}
	return out
}

func (m *storeModel) logf(format string, args ...any) {
	m.log = append(m.log, fmt.Sprintf(format, args...))
}

func (m *storeModel) liveHeads() []*modelHead {
	var out []*modelHead
	for _, h := range m.heads {
		if h.l != nil {
			out = append(out, h)
		}
	}
	return out
}

func (m *storeModel) newHead(parent, parentGen, blocks uint64, data map[uint64][]byte) {
	t := m.t
	id, err := m.ts.s.NewLineage(parent, parentGen)
	must(t, err)
	must(t, m.ts.s.Pin(id, HeadGen, "head"))
	l, err := m.ts.s.OpenLineage(id, 1, blocks)
	must(t, err)
	if data == nil {
		data = map[uint64][]byte{}
	}
	m.heads = append(m.heads, &modelHead{id: id, gen: 1, blocks: blocks, l: l, data: data})
	m.logf("new lineage %d from (%d, %d)", id, parent, parentGen)
}

func (m *storeModel) step() {
	t := m.t
	heads := m.liveHeads()
	if len(heads) == 0 {
		m.newHead(0, 0, testBlocks, nil)
		return
	}
	h := heads[m.rng.IntN(len(heads))]
	switch r := m.rng.IntN(100); {
	case r < 40: // write a run of 1-4 blocks
		lba, n := uint64(m.rng.IntN(modelBlocks)), 1+m.rng.IntN(4)
		buf := make([]byte, 0, n*BlockSize)
		for i := range uint64(n) {
			m.tag++
			b := pattern(m.tag, lba+i)
			buf = append(buf, b...)
			h.data[lba+i] = b
		}
		m.logf("lineage %d: write %d blocks at %d (tags from %d)", h.id, n, lba, m.tag-uint64(n)+1)
		must(t, h.l.WriteBlocks(lba, buf))
	case r < 55: // discard a run
		lba, n := uint64(m.rng.IntN(modelBlocks)), 1+m.rng.IntN(6)
		m.logf("lineage %d: discard %d blocks at %d", h.id, n, lba)
		must(t, h.l.Discard(lba, n))
		for i := range uint64(n) {
			delete(h.data, lba+i)
		}
	case r < 67: // snapshot
		holder := fmt.Sprintf("snap-%d", len(m.log))
		gen := freeze(t, m.ts.s, h.l, holder)
		if gen != h.gen {
			t.Fatalf("lineage %d froze generation %d, want %d", h.id, gen, h.gen)
		}
		m.snaps = append(m.snaps, &modelSnap{lineage: h.id, gen: gen, holder: holder, blocks: h.blocks, data: maps.Clone(h.data)})
		h.gen++
		m.logf("lineage %d: freeze gen %d as %s", h.id, gen, holder)
	case r < 77: // delete a snapshot
		if len(m.snaps) == 0 {
			return
		}
		i := m.rng.IntN(len(m.snaps))
		sn := m.snaps[i]
		m.logf("unpin %s (lineage %d gen %d)", sn.holder, sn.lineage, sn.gen)
		must(t, m.ts.s.Unpin(sn.lineage, sn.gen, sn.holder))
		m.snaps = slices.Delete(m.snaps, i, i+1)
	case r < 84: // a lineage from a snapshot, maybe larger
		if len(m.snaps) == 0 || len(heads) > 4 {
			return
		}
		sn := m.snaps[m.rng.IntN(len(m.snaps))]
		m.newHead(sn.lineage, sn.gen, sn.blocks*uint64(1+m.rng.IntN(2)), maps.Clone(sn.data))
	case r < 89: // delete a volume
		if len(heads) < 2 {
			return
		}
		m.logf("delete lineage %d's head", h.id)
		must(t, h.l.Close())
		h.l = nil
		must(t, m.ts.s.Unpin(h.id, HeadGen, "head"))
	case r < 97:
		m.logf("flush")
		must(t, m.ts.s.Flush())
	default:
		m.logf("reopen")
		m.reopen()
	}
}

func (m *storeModel) reopen() {
	t := m.t
	for _, h := range m.liveHeads() {
		must(t, h.l.Close())
	}
	m.ts.reopen()
	for _, h := range m.liveHeads() {
		var err error
		h.l, err = m.ts.s.OpenLineage(h.id, h.gen, h.blocks)
		must(t, err)
	}
}

var modelLBAs = func() []uint64 {
	var out []uint64
	for lba := range uint64(modelBlocks + 8) {
		out = append(out, lba)
	}
	return out
}()

func (m *storeModel) check(when string) {
	t := m.t
	t.Helper()
	for _, h := range m.liveHeads() {
		wantBlocks(t, fmt.Sprintf("%s: head of lineage %d", when, h.id), h.l, h.data, modelLBAs...)
	}
	must(t, m.ts.s.Flush())
	for _, sn := range m.snaps {
		v, err := m.ts.s.OpenView(sn.lineage, sn.gen, sn.blocks)
		must(t, err)
		wantBlocks(t, fmt.Sprintf("%s: %s (lineage %d gen %d)", when, sn.holder, sn.lineage, sn.gen), v, sn.data, modelLBAs...)
	}
	m.ts.checkAccounting(when)
}

func (m *storeModel) deleteAll() {
	t := m.t
	for _, sn := range m.snaps {
		must(t, m.ts.s.Unpin(sn.lineage, sn.gen, sn.holder))
	}
	m.snaps = nil
	for _, h := range m.liveHeads() {
		must(t, h.l.Close())
		h.l = nil
		must(t, m.ts.s.Unpin(h.id, HeadGen, "head"))
	}
	m.ts.checkAccounting("after deleting everything")
	if got := m.ts.s.UsedBlocks(); got != 0 {
		t.Errorf("UsedBlocks = %d after every snapshot and volume went, want 0", got)
	}
	for _, p := range []byte{mapPrefix, changePrefix, pinPrefix, lineageRecPrefix} {
		if n := m.ts.keysWithPrefix(p); n != 0 {
			t.Errorf("%d %q keys left after every lineage went", n, p)
		}
	}
}

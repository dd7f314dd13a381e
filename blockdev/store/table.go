package store

// entry is one block-map entry: the slot holding the block's data (0: the
// block reads as zeros, a tombstone over older data) and the generation in
// which it was written.
type entry struct {
	slot  uint64
	birth uint64
}

// Packed entries: slot in the high 40 bits, birth in the low 24. 0 means
// "no entry" (births start at 1).
const (
	birthBits = 24
	maxBirth  = 1<<birthBits - 1
	maxSlot   = 1<<(64-birthBits) - 1
)

func (e entry) pack() uint64 { return e.slot<<birthBits | e.birth }

func unpack(v uint64) (entry, bool) {
	if v == 0 {
		return entry{}, false
	}
	return entry{slot: v >> birthBits, birth: v & maxBirth}, true
}

const chunkBits = 12 // 4096 entries (32 KiB) per chunk

// table maps block numbers to entries; chunks are allocated on first use,
// so a thin volume costs memory only for the regions it has written.
type table struct {
	chunks []*[1 << chunkBits]uint64
}

func newTable(blocks uint64) *table {
	return &table{chunks: make([]*[1 << chunkBits]uint64, (blocks+1<<chunkBits-1)>>chunkBits)}
}

func (t *table) get(lba uint64) (entry, bool) {
	c := t.chunks[lba>>chunkBits]
	if c == nil {
		return entry{}, false
	}
	return unpack(c[lba&(1<<chunkBits-1)])
}

func (t *table) set(lba uint64, e entry) {
	c := t.chunks[lba>>chunkBits]
	if c == nil {
		c = new([1 << chunkBits]uint64)
		t.chunks[lba>>chunkBits] = c
	}
	c[lba&(1<<chunkBits-1)] = e.pack()
}

func (t *table) remove(lba uint64) {
	if c := t.chunks[lba>>chunkBits]; c != nil {
		c[lba&(1<<chunkBits-1)] = 0
	}
}

// each calls fn for every entry, in block order.
func (t *table) each(fn func(lba uint64, e entry)) {
	for ci, c := range t.chunks {
		if c == nil {
			continue
		}
		for i, v := range c {
			if e, ok := unpack(v); ok {
				fn(uint64(ci)<<chunkBits|uint64(i), e)
			}
		}
	}
}

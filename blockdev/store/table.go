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

const (
	chunkBits = 12 // 4096 entries (32 KiB) per chunk
	dirBits   = 10 // 1024 chunks (4 Mi blocks, 16 GiB of volume) per directory
)

type chunk [1 << chunkBits]uint64

type dir [1 << dirBits]*chunk

// table maps block numbers to entries: a directory of chunks per 16 GiB;
// directories and chunks are allocated on first use, so a table costs
// memory for the regions written (and one pointer per 16 GiB: 8 KiB for 16
// TiB), however large the volume. A flat array of chunk pointers cost 8 MiB
// per 16 TiB before the first write.
type table struct {
	dirs []*dir
}

func newTable(blocks uint64) *table {
	chunks := (blocks + 1<<chunkBits - 1) >> chunkBits
	return &table{dirs: make([]*dir, (chunks+1<<dirBits-1)>>dirBits)}
}

// chunk returns the chunk of lba, nil if it was never written.
func (t *table) chunk(lba uint64) *chunk {
	d := t.dirs[lba>>(chunkBits+dirBits)]
	if d == nil {
		return nil
	}
	return d[lba>>chunkBits&(1<<dirBits-1)]
}

func (t *table) get(lba uint64) (entry, bool) {
	c := t.chunk(lba)
	if c == nil {
		return entry{}, false
	}
	return unpack(c[lba&(1<<chunkBits-1)])
}

func (t *table) set(lba uint64, e entry) {
	d := t.dirs[lba>>(chunkBits+dirBits)]
	if d == nil {
		d = new(dir)
		t.dirs[lba>>(chunkBits+dirBits)] = d
	}
	c := d[lba>>chunkBits&(1<<dirBits-1)]
	if c == nil {
		c = new(chunk)
		d[lba>>chunkBits&(1<<dirBits-1)] = c
	}
	c[lba&(1<<chunkBits-1)] = e.pack()
}

func (t *table) remove(lba uint64) {
	if c := t.chunk(lba); c != nil {
		c[lba&(1<<chunkBits-1)] = 0
	}
}

// each calls fn for every entry, in block order.
func (t *table) each(fn func(lba uint64, e entry)) {
	for di, d := range t.dirs {
		if d == nil {
			continue
		}
		for ci, c := range d {
			if c == nil {
				continue
			}
			base := (uint64(di)<<dirBits | uint64(ci)) << chunkBits
			for i, v := range c {
				if e, ok := unpack(v); ok {
					fn(base|uint64(i), e)
				}
			}
		}
	}
}

package store

import (
	"math/bits"
	"sync"
)

// allocator tracks which slots are in use: a bitmap, a search hint, and the
// slots freed since the last durable map commit, which must not be reused
// before it.
type allocator struct {
	mu      sync.Mutex
	used    []uint64 // bit s-1 set: slot s in use
	hint    uint64   // no free slot below this index
	pending []uint64 // freed, reusable after the next commit
	inUse   uint64
}

func (a *allocator) isUsed(slot uint64) bool {
	i := slot - 1
	return i/64 < uint64(len(a.used)) && a.used[i/64]&(1<<(i%64)) != 0
}

// mark records slot as used (while loading the map).
func (a *allocator) mark(slot uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.set(slot - 1)
}

func (a *allocator) set(i uint64) {
	for i/64 >= uint64(len(a.used)) {
		a.used = append(a.used, 0)
	}
	if a.used[i/64]&(1<<(i%64)) == 0 {
		a.inUse++
	}
	a.used[i/64] |= 1 << (i % 64)
}

// alloc takes n free slots, lowest first (consecutive when the free space
// allows), and appends them to dst.
func (a *allocator) alloc(dst []uint64, n int) []uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	w := a.hint / 64
	for n > 0 {
		if w >= uint64(len(a.used)) {
			a.used = append(a.used, 0)
		}
		free := ^a.used[w]
		for free != 0 && n > 0 {
			b := uint64(bits.TrailingZeros64(free))
			free &^= 1 << b
			a.set(w*64 + b)
			dst = append(dst, w*64+b+1)
			n--
		}
		if free == 0 {
			w++
		}
	}
	a.hint = w * 64
	return dst
}

// release returns slots taken by alloc that were never mapped (a failed
// write): they are reusable at once.
func (a *allocator) release(slots []uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, s := range slots {
		a.clear(s)
	}
}

// free marks slots as freed by a map change; they become reusable after
// the next durable commit (see commitFrees).
func (a *allocator) free(slots ...uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pending = append(a.pending, slots...)
}

// takePending returns the slots freed so far; after the map changes that
// freed them are durable, pass them to release.
func (a *allocator) takePending() []uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	p := a.pending
	a.pending = nil
	return p
}

// hasPending says whether slots were freed since the last takePending.
func (a *allocator) hasPending() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.pending) > 0
}

func (a *allocator) clear(slot uint64) {
	i := slot - 1
	if i/64 < uint64(len(a.used)) && a.used[i/64]&(1<<(i%64)) != 0 {
		a.used[i/64] &^= 1 << (i % 64)
		a.inUse--
		if i/64*64 < a.hint {
			a.hint = i / 64 * 64
		}
	}
}

func (a *allocator) count() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.inUse
}

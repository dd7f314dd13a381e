package blockdev

import "sync"

const lockStripes = 1024

// stripes serialise operations on the same block: a read-modify-write of a
// partial block, a full-block write, a discard and a read of that block
// never overlap. Block b uses lock b % lockStripes.
type stripes [lockStripes]sync.RWMutex

// lock takes the locks of blocks [first, first+n) in ascending order and
// returns the function that releases them.
func (s *stripes) lock(first, n uint64, write bool) func() {
	lo, hi := first%lockStripes, (first+n-1)%lockStripes
	var idx []uint64
	switch {
	case n >= lockStripes:
		idx = rangeOf(0, lockStripes-1)
	case lo <= hi:
		idx = rangeOf(lo, hi)
	default: // wraps: [0, hi] then [lo, end]
		idx = append(rangeOf(0, hi), rangeOf(lo, lockStripes-1)...)
	}
	for _, i := range idx {
		if write {
			s[i].Lock()
		} else {
			s[i].RLock()
		}
	}
	return func() {
		for _, i := range idx {
			if write {
				s[i].Unlock()
			} else {
				s[i].RUnlock()
			}
		}
	}
}

func rangeOf(a, b uint64) []uint64 {
	out := make([]uint64, 0, b-a+1)
	for i := a; i <= b; i++ {
		out = append(out, i)
	}
	return out
}

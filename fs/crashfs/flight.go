package crashfs

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// An fsync makes durable what was written before it arrived, not what is
// being written while it runs: for a write in flight when an fsync comes
// (a large write, or one that lost the race), a real fsync may catch some
// of its pages and miss others. So an fsync does not wait for the writes in
// flight, and the pages they touch keep a pre-image: their content before
// the earliest write in flight on them, read when that write began. One
// write in flight per page is exact; with two, a write that began after the
// earliest and ended before the fsync is not counted as durable (strict).

// flight is a write in flight: its range and the file's size when it began.
type flight struct {
	off, end  int64
	startSize int64
}

type flying struct {
	writes map[*flight]bool
	pages  map[int64]int       // writes in flight per page
	before map[int64]*preImage // per page in flight: its content before the earliest of them
}

func newFlying() flying {
	return flying{writes: map[*flight]bool{}, pages: map[int64]int{}, before: map[int64]*preImage{}}
}

// begin records the pre-images a write of [off, off+n) needs and notes it
// in flight; end must follow when the write is done. s.mu is held shared.
func (s *fileState) begin(off, n int64) (*flight, error) {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	var st unix.Stat_t
	if err := unix.Fstat(s.fd, &st); err != nil {
		return nil, fmt.Errorf("crashfs: stat inode %v: %w", s.key, err)
	}
	fl := &flight{off: off, end: off + n, startSize: st.Size}
	s.changed = true
	for p := off / pageSize; p*pageSize < fl.end; p++ {
		img, logged := s.pages[p]
		switch {
		case !logged && p*pageSize < s.size:
			img, err := s.read(p, s.size) // unchanged since the sync: durable
			if err != nil {
				return nil, err
			}
			s.pages[p] = img
		case logged:
			img.lost = false // written again: the next fsync writes it
		}
		if s.flying.pages[p] == 0 && p*pageSize < st.Size {
			now, err := s.read(p, st.Size)
			if err != nil {
				return nil, err
			}
			if now.data != nil { // past the end of the file: zeros if it grows
				now.data = append(now.data, make([]byte, pageSize-len(now.data))...)
			}
			s.flying.before[p] = now
		}
		s.flying.pages[p]++
	}
	s.flying.writes[fl] = true
	return fl, nil
}

// end notes a write done.
func (s *fileState) end(fl *flight) {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	for p := fl.off / pageSize; p*pageSize < fl.end; p++ {
		if s.flying.pages[p]--; s.flying.pages[p] == 0 {
			delete(s.flying.pages, p)
			delete(s.flying.before, p)
		}
	}
	delete(s.flying.writes, fl)
}

// synced makes durable what was written before now, except lost pages and
// the writes in flight. s.mu is held (shared).
func (s *fileState) synced() error {
	var st unix.Stat_t
	if err := unix.Fstat(s.fd, &st); err != nil {
		return fmt.Errorf("crashfs: stat inode %v: %w", s.key, err)
	}
	s.logMu.Lock()
	defer s.logMu.Unlock()
	size := st.Size
	for fl := range s.flying.writes {
		if fl.end > fl.startSize { // it grows the file: the growth is not durable
			size = min(size, fl.startSize)
		}
	}
	for p, img := range s.pages {
		if !img.lost && s.flying.pages[p] == 0 {
			delete(s.pages, p)
		}
	}
	for p := range s.flying.pages {
		if img, ok := s.pages[p]; (!ok || !img.lost) && p*pageSize < size {
			s.pages[p] = s.flying.beforeImage(p)
		}
	}
	s.size, s.setSize = size, -1
	s.changed = len(s.pages) > 0
	return nil
}

// beforeImage is page p's content before the writes in flight on it (a
// hole if it was past the end of the file then).
func (f *flying) beforeImage(p int64) *preImage {
	img := f.before[p]
	if img == nil {
		return &preImage{}
	}
	return &preImage{data: img.data}
}

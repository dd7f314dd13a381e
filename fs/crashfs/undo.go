package crashfs

import (
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sys/unix"
)

// pageSize is the unit of the undo log.
const pageSize = 4096

// fileKey names an inode of the backing file system: its number and birth
// time (so that a reused number is another key).
type fileKey struct {
	ino   uint64
	birth int64
}

func keyOf(x *unix.Statx_t) fileKey {
	k := fileKey{ino: x.Ino}
	if x.Mask&unix.STATX_BTIME != 0 {
		k.birth = x.Btime.Sec*1e9 + int64(x.Btime.Nsec)
	}
	return k
}

func (k fileKey) String() string { return fmt.Sprintf("%d.%d", k.ino, k.birth) }

// statx stats path (not following a symlink) relative to dirfd, or dirfd
// itself when path is "".
func statx(dirfd int, path string) (*unix.Statx_t, error) {
	flags := unix.AT_SYMLINK_NOFOLLOW
	if path == "" {
		flags |= unix.AT_EMPTY_PATH
	}
	var x unix.Statx_t
	if err := unix.Statx(dirfd, path, flags, unix.STATX_BASIC_STATS|unix.STATX_BTIME, &x); err != nil {
		return nil, err
	}
	return &x, nil
}

// preImage is a page's content at the file's last sync.
type preImage struct {
	data []byte // nil: the page was a hole
	// lost: a failed fsync covered the page since it last changed, so a
	// later fsync does not make its content durable.
	lost bool
}

// fileState is what a cut needs to know about a file: its durable size and
// the durable content of every page changed since.
type fileState struct {
	key fileKey
	fd  int // read-write, on the inode wherever its names go

	// mu: writes and fsyncs hold it shared, so an fsync does not wait for
	// the writes in flight (flight.go); truncation, fallocate and the cut
	// hold it alone.
	mu sync.RWMutex

	logMu   sync.Mutex
	size    int64 // durable size
	pages   map[int64]*preImage
	changed bool // anything since the last sync
	// setSize is the size the last truncate or size-changing fallocate set
	// since the last sync (-1: none), which a journal commit makes durable.
	setSize int64
	flying  flying // the writes in flight
}

// openState opens a state for the inode open at fd (any access mode).
func openState(key fileKey, fd int) (*fileState, error) {
	rw, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", fd), unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("crashfs: reopen inode %v: %w", key, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(rw, &st); err != nil {
		unix.Close(rw)
		return nil, fmt.Errorf("crashfs: stat inode %v: %w", key, err)
	}
	return &fileState{key: key, fd: rw, size: st.Size, pages: map[int64]*preImage{}, setSize: -1, flying: newFlying()}, nil
}

// capture records the pre-images of the pages [off, off+n) touches below
// the durable size, before a change to them. s.mu is held (shared or not).
func (s *fileState) capture(off, n int64) error {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	s.changed = true
	end := min(off+n, s.size)
	for p := off / pageSize; p*pageSize < end; p++ {
		if img, ok := s.pages[p]; ok {
			img.lost = false // written again: the next fsync writes it
			continue
		}
		img, err := s.read(p, s.size)
		if err != nil {
			return err
		}
		s.pages[p] = img
	}
	return nil
}

// captureData is capture for a change that leaves holes as they are
// (truncation, punch hole, zero range): only pages holding data need their
// pre-images, and a sparse file's holes cost nothing.
func (s *fileState) captureData(off, n int64) error {
	end := min(off+n, s.durableSize())
	for pos := off; pos < end; {
		data, err := unix.Seek(s.fd, pos, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break
		}
		if err != nil {
			return fmt.Errorf("crashfs: seek data of inode %v at %d: %w", s.key, pos, err)
		}
		if data >= end {
			break
		}
		hole, err := unix.Seek(s.fd, data, unix.SEEK_HOLE)
		if err != nil {
			return fmt.Errorf("crashfs: seek hole of inode %v at %d: %w", s.key, data, err)
		}
		hole = min(hole, end)
		if err := s.capture(data, hole-data); err != nil {
			return err
		}
		pos = hole
	}
	s.resized()
	return nil
}

func (s *fileState) durableSize() int64 {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return s.size
}

// resized notes a size change that touches no durable content.
func (s *fileState) resized() {
	s.logMu.Lock()
	s.changed = true
	s.logMu.Unlock()
}

// read reads page p as it is now, up to limit, keeping a hole as a hole.
func (s *fileState) read(p, limit int64) (*preImage, error) {
	off := p * pageSize
	data, err := unix.Seek(s.fd, off, unix.SEEK_DATA)
	if errors.Is(err, unix.ENXIO) || err == nil && data >= off+pageSize {
		return &preImage{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("crashfs: seek data of inode %v at %d: %w", s.key, off, err)
	}
	if limit <= off {
		return &preImage{}, nil // past the end: zeros if the file grows
	}
	buf := make([]byte, min(pageSize, limit-off))
	for done := 0; done < len(buf); {
		n, err := unix.Pread(s.fd, buf[done:], off+int64(done))
		if err != nil {
			return nil, fmt.Errorf("crashfs: read pre-image of inode %v at %d: %w", s.key, off, err)
		}
		if n == 0 {
			break // shorter than its durable size: the rest reads as zeros
		}
		done += n
	}
	return &preImage{data: buf}, nil
}

// sizeSet notes the size a truncate or fallocate just set. s.mu is held
// alone.
func (s *fileState) sizeSet() error {
	var st unix.Stat_t
	if err := unix.Fstat(s.fd, &st); err != nil {
		return fmt.Errorf("crashfs: stat inode %v: %w", s.key, err)
	}
	s.logMu.Lock()
	s.setSize = st.Size
	s.logMu.Unlock()
	return nil
}

// commitSize makes the size a truncate or fallocate set durable, as a
// journal commit does; the content stays as durable as it was: pages that
// the new durable size takes in read as zeros after a cut unless synced.
// s.mu is held alone.
func (s *fileState) commitSize() error {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	if s.setSize < 0 {
		return nil
	}
	if s.setSize > s.size {
		if err := s.zeroTail(s.setSize); err != nil {
			return err
		}
	}
	s.size, s.setSize, s.changed = s.setSize, -1, true
	return nil
}

// zeroTail records, for a durable size growing to newSize, that the pages
// between the durable size and newSize were zeros at the last sync: the
// partial page at the durable end gets a whole-page pre-image, the pages
// after it that hold data now a hole (holes stay holes anyway). s.logMu is
// held.
func (s *fileState) zeroTail(newSize int64) error {
	if tail := s.size % pageSize; tail != 0 {
		p := s.size / pageSize
		img, ok := s.pages[p]
		if !ok {
			var err error
			if img, err = s.read(p, s.size); err != nil {
				return err
			}
			s.pages[p] = img
		}
		if img.data != nil {
			img.data = append(img.data, make([]byte, pageSize-len(img.data))...)
		}
	}
	for pos := (s.size + pageSize - 1) / pageSize * pageSize; pos < newSize; {
		data, err := unix.Seek(s.fd, pos, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break
		}
		if err != nil {
			return fmt.Errorf("crashfs: seek data of inode %v at %d: %w", s.key, pos, err)
		}
		hole, err := unix.Seek(s.fd, data, unix.SEEK_HOLE)
		if err != nil {
			return fmt.Errorf("crashfs: seek hole of inode %v at %d: %w", s.key, data, err)
		}
		for p := data / pageSize; p*pageSize < min(hole, newSize); p++ {
			if _, ok := s.pages[p]; !ok {
				s.pages[p] = &preImage{}
			}
		}
		pos = hole
	}
	return nil
}

// failed marks every page changed since the last sync as lost: the fsync
// that covered them failed. s.mu is held (shared).
func (s *fileState) failed() {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	for _, img := range s.pages {
		img.lost = true
	}
}

// restore rolls the file back to its durable size and content and returns
// how many pages it wrote back. s.mu is held alone.
func (s *fileState) restore() (int, error) {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	if !s.changed {
		return 0, nil
	}
	if err := unix.Ftruncate(s.fd, s.size); err != nil {
		return 0, fmt.Errorf("crashfs: truncate inode %v to %d: %w", s.key, s.size, err)
	}
	for p, img := range s.pages {
		off := p * pageSize
		if off >= s.size {
			continue
		}
		var err error
		if img.data == nil {
			err = unix.Fallocate(s.fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, min(pageSize, s.size-off))
		} else {
			_, err = unix.Pwrite(s.fd, img.data[:min(int64(len(img.data)), s.size-off)], off)
		}
		if err != nil {
			return 0, fmt.Errorf("crashfs: restore inode %v at %d: %w", s.key, off, err)
		}
	}
	n := len(s.pages)
	clear(s.pages)
	s.changed = false
	return n, nil
}

func (s *fileState) close() error { return unix.Close(s.fd) }

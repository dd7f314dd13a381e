package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestFsyncLeavesNoDirtyExtentPages checks, with cachestat(2) (Linux 6.5),
// what an fsync on a volume file must have done by the time it returns:
// no page of the extent files that holds a block it covered is dirty or
// under writeback. Eight writers write recognisable blocks of an
// unencrypted volume at once and one of them fsyncs, again and again,
// while another volume is fsynced in a loop and snapshots of both are
// taken; after each fsync the test finds the slots of the blocks in the
// extent files (by content: the volume is unencrypted) and asks cachestat
// about their pages. A page still dirty is a block the fsync acknowledged
// that a power cut would lose.
func TestFsyncLeavesNoDirtyExtentPages(t *testing.T) {
	needVolumes(t)
	if _, err := cachestatFile(os.Args[0], 0, 4096); errors.Is(err, unix.ENOSYS) {
		t.Skip("SKIP: cachestat(2) is missing (Linux 6.5 or later has it):", err)
	} else if err != nil {
		t.Fatalf("cachestat: %v", err)
	}
	e := startVolumeDaemon(t)
	vol, other := e.createVolume("--size", "1"), e.createVolume("--size", "1")
	file, otherFile := e.attach(vol), e.attach(other)
	f := openVolume(t, file, os.O_RDWR)
	g := openVolume(t, otherFile, os.O_RDWR)
	run := make([]byte, 8)
	rand.Read(run)

	stop := make(chan struct{})
	var bg sync.WaitGroup
	bg.Add(2)
	go func() { defer bg.Done(); syncUntil(g, stop) }()
	var snaps atomic.Int64
	go func() {
		defer bg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if _, err := e.d.cli("ec2", "create-snapshot", "--volume-id", []string{vol, other}[i%2]); err == nil {
				snaps.Add(1)
			}
		}
	}()
	defer func() { close(stop); bg.Wait() }()

	const writers = 8
	extents := &extentFiles{dir: filepath.Join(e.dataDir, "blocks", "extents"), last: map[string][2]int64{}}
	defer extents.close()
	var checked, dirty, fsyncs int
	var first string
	// 2000 fsyncs (4 s here with -race), or 30 s on a slow machine.
	for deadline := time.Now().Add(30 * time.Second); fsyncs < 2000 && time.Now().Before(deadline); fsyncs++ {
		blocks := make([][]byte, writers)
		var wg sync.WaitGroup
		for w := range writers {
			blocks[w] = cachestatBlock(run, fsyncs, w)
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := f.WriteAt(blocks[w], int64(w)*4096); err != nil {
					t.Errorf("write: %v", err)
				}
			}()
		}
		wg.Wait()
		if err := f.Sync(); err != nil {
			t.Fatalf("fsync: %v", err)
		}
		for w, loc := range extents.locate(t, blocks) {
			cs, err := extents.cachestat(int(loc[0]), loc[1])
			if err != nil {
				t.Fatalf("cachestat: %v", err)
			}
			checked++
			if cs.Dirty+cs.Writeback > 0 {
				dirty++
				if first == "" {
					first = fmt.Sprintf("fsync %d, block %d (extent %d at %d): %+v", fsyncs, w, loc[0], loc[1], cs)
				}
			}
		}
	}
	t.Logf("%d fsyncs of 8 blocks written at once, %d snapshots taken beside them: %d of %d pages the fsyncs covered were dirty after they returned",
		fsyncs, snaps.Load(), dirty, checked)
	if dirty > 0 {
		t.Errorf("%d of %d extent pages were still dirty or under writeback after the fsync that covered them returned (first: %s)", dirty, checked, first)
	}
}

// cachestatBlock is block w of fsync n: recognisable, unique.
func cachestatBlock(run []byte, n, w int) []byte {
	b := make([]byte, 4096)
	rand.Read(b[32:])
	copy(b, "EBSCSTAT")
	copy(b[8:], run)
	binary.LittleEndian.PutUint64(b[16:], uint64(n))
	binary.LittleEndian.PutUint64(b[24:], uint64(w))
	return b
}

// extentFiles are the store's extent files, open for reading, and where
// blocks were last found in them.
type extentFiles struct {
	dir   string
	files []*os.File
	last  map[string][2]int64 // block header -> (extent, offset)
}

func (x *extentFiles) close() {
	for _, f := range x.files {
		f.Close()
	}
}

// locate returns the extent and offset of the slot that holds each block:
// where the block number was found last time if the slot still holds it,
// else (after a copy-on-write moved it) by one scan of the extent files'
// data for all the blocks that moved.
func (x *extentFiles) locate(t *testing.T, blocks [][]byte) [][2]int64 {
	t.Helper()
	out := make([][2]int64, len(blocks))
	want := map[string]int{} // header -> block, for the blocks to look for
	buf := make([]byte, 4096)
	for i, b := range blocks {
		if loc, ok := x.last[string(b[24:32])]; ok {
			if _, err := x.files[loc[0]].ReadAt(buf, loc[1]); err == nil && bytes.Equal(buf, b) {
				out[i] = loc
				continue
			}
		}
		want[string(b[:32])] = i
	}
	if len(want) == 0 {
		return out
	}
	x.open(t)
	for e, f := range x.files {
		fi, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range dataRanges(f, fi.Size()) {
			chunk := make([]byte, r[1]-r[0])
			n, _ := f.ReadAt(chunk, r[0])
			for s := 0; s+4096 <= n; s += 4096 {
				if i, ok := want[string(chunk[s:s+32])]; ok && bytes.Equal(chunk[s:s+4096], blocks[i]) {
					out[i] = [2]int64{int64(e), r[0] + int64(s)}
					x.last[string(blocks[i][24:32])] = out[i]
					delete(want, string(blocks[i][:32]))
				}
			}
		}
	}
	for _, i := range want {
		t.Fatalf("block %d of the last fsync is in no extent file", i)
	}
	return out
}

// open opens the extent files not open yet.
func (x *extentFiles) open(t *testing.T) {
	t.Helper()
	for i := len(x.files); ; i++ {
		f, err := os.Open(filepath.Join(x.dir, fmt.Sprintf("extent-%06d", i)))
		if errors.Is(err, os.ErrNotExist) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		x.files = append(x.files, f)
	}
}

func (x *extentFiles) cachestat(ext int, off int64) (cacheStat, error) {
	return cachestatFd(int(x.files[ext].Fd()), off, 4096)
}

// cacheStat is struct cachestat of cachestat(2).
type cacheStat struct {
	Cache, Dirty, Writeback, Evicted, RecentlyEvicted uint64
}

// cachestatFd is cachestat(2) (syscall 451) of [off, off+n) of fd.
func cachestatFd(fd int, off, n int64) (cacheStat, error) {
	rng := struct{ off, len uint64 }{uint64(off), uint64(n)}
	var cs cacheStat
	_, _, errno := unix.Syscall6(unix.SYS_CACHESTAT, uintptr(fd), uintptr(unsafe.Pointer(&rng)), uintptr(unsafe.Pointer(&cs)), 0, 0, 0)
	if errno != 0 {
		return cs, errno
	}
	return cs, nil
}

// cachestatFile is cachestatFd of a file by name.
func cachestatFile(path string, off, n int64) (cacheStat, error) {
	f, err := os.Open(path)
	if err != nil {
		return cacheStat{}, err
	}
	defer f.Close()
	cs, err := cachestatFd(int(f.Fd()), off, n)
	if errors.Is(err, syscall.ENOSYS) {
		return cs, unix.ENOSYS
	}
	return cs, err
}

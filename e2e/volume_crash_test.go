package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestCrashKeepsFsyncedWrites SIGKILLs the daemon while writers write and
// fsync 4 KiB blocks of an attached encrypted volume, restarts it (it must
// attach the volume again and recover its mount dir by itself), and checks
// that every write acknowledged by a completed fsync is there: the block
// holds that write or a newer, intact one.
func TestCrashKeepsFsyncedWrites(t *testing.T) {
	needVolumes(t)
	e := startVolumeDaemon(t)
	newKey(t, e.d, "alias/crash")
	vol := e.createVolume("--size", "1", "--encrypted", "--kms-key-id", "alias/crash")
	file := e.attach(vol)

	const (
		rounds  = 6
		writers = 4
		blocks  = 512 // the first 2 MiB: blocks are overwritten often
	)
	st := &crashState{synced: map[uint64]uint64{}, issued: map[uint64]uint64{}}
	for round := uint32(1); round <= rounds; round++ {
		var wg sync.WaitGroup
		var written, fsyncs atomic.Int64
		errs := make([]error, writers)
		for w := 0; w < writers; w++ {
			f, err := os.OpenFile(file, os.O_RDWR, 0)
			if err != nil {
				t.Fatalf("round %d: open the volume: %v", round, err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer f.Close()
				errs[w] = st.write(f, round, uint64(w), writers, blocks, &written, &fsyncs)
			}()
		}
		// Kill at a random moment once writes and fsyncs are under way.
		deadline := time.Now().Add(20 * time.Second)
		for fsyncs.Load() < int64(writers) && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(time.Duration(mrand.IntN(300)) * time.Millisecond)
		before := written.Load()
		e.d.kill()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatalf("round %d: the writers are still blocked 20s after the daemon died", round)
		}
		for w, err := range errs {
			if err == nil {
				t.Fatalf("round %d: writer %d stopped without an error: the daemon was not killed under writes", round, w)
			}
		}
		if fsyncs.Load() == 0 || before == 0 {
			t.Fatalf("round %d: %d writes and %d fsyncs before the kill", round, before, fsyncs.Load())
		}
		t.Logf("round %d: killed after %d writes and %d fsyncs; writers stopped with %v", round, before, fsyncs.Load(), errs[0])

		// The new daemon detaches the dead mount and attaches the volume again.
		e.d.start()
		e.checkFile(vol)
		if s, att := e.volumeState(vol); s != "in-use" || len(att) != 1 {
			t.Fatalf("round %d: after restart the volume is %s %v", round, s, att)
		}
		st.verify(t, file, round, blocks)
	}
}

// crashState is what the writers did: per block, the newest sequence
// number acknowledged by a completed fsync, and the newest one issued.
type crashState struct {
	seq    atomic.Uint64
	stop   atomic.Bool // the writers return nil after their next fsync
	mu     sync.Mutex
	synced map[uint64]uint64
	issued map[uint64]uint64
}

const (
	crashMagic  = "EBSCRASH"
	crashHeader = 40 // magic, round, writer, block, seq, crc
)

// write writes blocks (those with block % writers == w) with fsync after
// every few writes, until an I/O error, which comes when the daemon dies,
// or until stop is set (then it returns nil after an fsync).
func (s *crashState) write(f *os.File, round uint32, w, writers, blocks uint64, written, fsyncs *atomic.Int64) error {
	buf := make([]byte, 4096)
	pending := map[uint64]uint64{}
	every := 1 + mrand.IntN(8)
	for n := 1; ; n++ {
		b := w + writers*mrand.Uint64N(blocks/writers)
		seq := s.seq.Add(1)
		fillCrashBlock(buf, round, w, b, seq)
		s.mu.Lock()
		s.issued[b] = max(s.issued[b], seq)
		s.mu.Unlock()
		if _, err := f.WriteAt(buf, int64(b)*4096); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		written.Add(1)
		pending[b] = seq
		if n%every != 0 {
			continue
		}
		if err := f.Sync(); err != nil {
			return fmt.Errorf("fsync: %w", err)
		}
		s.mu.Lock()
		for pb, ps := range pending {
			s.synced[pb] = max(s.synced[pb], ps)
		}
		s.mu.Unlock()
		clear(pending)
		fsyncs.Add(1)
		if s.stop.Load() {
			return nil
		}
	}
}

func fillCrashBlock(buf []byte, round uint32, w, b, seq uint64) {
	rand.Read(buf[crashHeader:])
	copy(buf, crashMagic)
	binary.LittleEndian.PutUint32(buf[8:], round)
	binary.LittleEndian.PutUint32(buf[12:], uint32(w))
	binary.LittleEndian.PutUint64(buf[16:], b)
	binary.LittleEndian.PutUint64(buf[24:], seq)
	binary.LittleEndian.PutUint64(buf[32:], 0)
	binary.LittleEndian.PutUint32(buf[32:], crc32.Checksum(buf, crc32.MakeTable(crc32.Castagnoli)))
}

// parseCrashBlock returns the block number and sequence number of an
// intact block, or an error saying what is wrong.
func parseCrashBlock(buf []byte) (b, seq uint64, err error) {
	if bytes.Equal(buf, make([]byte, len(buf))) {
		return 0, 0, fmt.Errorf("all zeros")
	}
	if string(buf[:8]) != crashMagic {
		return 0, 0, fmt.Errorf("bad magic %q", buf[:8])
	}
	sum := binary.LittleEndian.Uint32(buf[32:])
	c := bytes.Clone(buf)
	binary.LittleEndian.PutUint64(c[32:], 0)
	if crc32.Checksum(c, crc32.MakeTable(crc32.Castagnoli)) != sum {
		return 0, 0, fmt.Errorf("bad checksum (a torn or corrupt block) for seq %d", binary.LittleEndian.Uint64(buf[24:]))
	}
	return binary.LittleEndian.Uint64(buf[16:]), binary.LittleEndian.Uint64(buf[24:]), nil
}

// verify reads the written region after a restart: every fsynced block has
// at least its fsynced write, intact; no block has a write never issued;
// blocks never written read as zeros.
func (s *crashState) verify(t *testing.T, file string, round uint32, blocks uint64) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatalf("round %d: open after restart: %v", round, err)
	}
	defer f.Close()
	data := make([]byte, blocks*4096)
	if _, err := f.ReadAt(data, 0); err != nil {
		t.Fatalf("round %d: read after restart: %v", round, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	bad := 0
	for b := uint64(0); b < blocks; b++ {
		buf := data[b*4096 : (b+1)*4096]
		want, synced := s.synced[b]
		issued, written := s.issued[b]
		if !written {
			if !bytes.Equal(buf, make([]byte, 4096)) {
				t.Errorf("round %d: block %d was never written but does not read as zeros", round, b)
				bad++
			}
			continue
		}
		gotB, seq, err := parseCrashBlock(buf)
		switch {
		case err != nil && !synced:
			// Never fsynced: losing it is allowed, but not a torn or foreign block.
			if !bytes.Equal(buf, make([]byte, 4096)) {
				t.Errorf("round %d: block %d (never fsynced): %v", round, b, err)
				bad++
			}
		case err != nil:
			t.Errorf("round %d: block %d, fsynced with seq %d: %v", round, b, want, err)
			bad++
		case gotB != b:
			t.Errorf("round %d: block %d holds the write of block %d", round, b, gotB)
			bad++
		case seq < want:
			t.Errorf("round %d: block %d holds seq %d, older than the fsynced %d: an fsynced write was lost", round, b, seq, want)
			bad++
		case seq > issued:
			t.Errorf("round %d: block %d holds seq %d, but the newest write issued was %d", round, b, seq, issued)
			bad++
		}
		if bad > 20 {
			t.Fatalf("round %d: too many bad blocks", round)
		}
	}
	if bad > 0 {
		t.FailNow()
	}
	t.Logf("round %d: %d blocks fsynced, %d written: all fine after the crash", round, len(s.synced), len(s.issued))
}

// TestCrashExt4KeepsFsyncedFiles crashes the daemon under ext4 (a loop
// device with direct I/O, whose flushes become fsyncs of the volume file)
// while files are being written: after the restart, every file that was
// fsynced (with its directory) before the crash is there, intact, and the
// file system is clean once its journal has been replayed.
func TestCrashExt4KeepsFsyncedFiles(t *testing.T) {
	needVolumes(t, "losetup", "mkfs.ext4", "e2fsck")
	e := startVolumeDaemon(t)
	newKey(t, e.d, "alias/crash-ext4")
	vol := e.createVolume("--size", "1", "--encrypted", "--kms-key-id", "alias/crash-ext4")
	file := e.attach(vol)
	loopFlags := []string{"--sector-size", "4096", "--direct-io=on"}
	l := losetup(t, file, loopFlags...)
	sh(t, "mkfs.ext4", "-q", l.dev)
	m := mountFS(t, l.dev)

	var mu sync.Mutex
	synced := map[string]string{}
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		dir, err := os.Open(m.dir)
		if err != nil {
			done <- err
			return
		}
		defer dir.Close()
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			name := fmt.Sprintf("file-%04d", i)
			data := make([]byte, 4096+mrand.IntN(256<<10))
			rand.Read(data)
			f, err := os.Create(m.dir + "/" + name)
			if err != nil {
				done <- err
				return
			}
			_, err = f.Write(data)
			if err == nil && i%2 == 0 { // every other file is fsynced, with its directory entry
				if err = f.Sync(); err == nil {
					err = dir.Sync()
				}
				if err == nil {
					mu.Lock()
					synced[name] = sha(data)
					mu.Unlock()
				}
			}
			f.Close()
			if err != nil {
				done <- err
				return
			}
		}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(synced)
		mu.Unlock()
		if n >= 10 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(time.Duration(mrand.IntN(200)) * time.Millisecond)
	e.d.kill()
	var werr error
	select {
	case werr = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the ext4 writer is still blocked 20s after the daemon died")
	}
	close(stop)
	mu.Lock()
	defer mu.Unlock()
	if werr == nil || len(synced) < 10 {
		t.Fatalf("the daemon was not killed under fsynced writes: writer error %v, %d files fsynced", werr, len(synced))
	}
	t.Logf("killed after %d fsynced files; the writer stopped with %v", len(synced), werr)
	// The old file system and loop device go first: their backing file died.
	unmountQuietly(m.dir)
	m.done = true
	l.detachQuietly()

	e.d.start()
	e.checkFile(vol)
	l = losetup(t, file, loopFlags...)
	m = mountFS(t, l.dev) // replays the journal
	got := treeSums(t, m.dir)
	for name, sum := range synced {
		if got[name] != sum {
			t.Errorf("fsynced file %s: sha256 %q after the crash, want %s", name, got[name], sum)
		}
	}
	m.unmount()
	if out, err := exec.Command("e2fsck", "-fn", l.dev).CombinedOutput(); err != nil {
		t.Fatalf("e2fsck -fn after the crash: %v\n%s", err, out)
	}
	l.detach()
	e.detach(vol)
}

package e2e

import (
	"context"
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestSnapshotWhileFioWrites takes create-snapshot of a volume whose ext4
// is mounted and busy (fio writing and fsyncing, and a writer of our own
// that creates files and fsyncs them with their directory). The snapshot
// is crash-consistent: restored, its journal replays at mount, e2fsck -fn
// finds it clean, every file fsynced before create-snapshot was called is
// intact, and no file created after create-snapshot returned is in it.
func TestSnapshotWhileFioWrites(t *testing.T) {
	needVolumes(t, "losetup", "mkfs.ext4", "e2fsck", "fio")
	e := startVolumeDaemon(t)
	d := e.d
	newKey(t, d, "alias/fio-snap")
	vol := e.createVolume("--size", "1", "--encrypted", "--kms-key-id", "alias/fio-snap")
	l := losetup(t, e.attach(vol), snapLoopFlags...)
	sh(t, "mkfs.ext4", "-q", l.dev)
	m := mountFS(t, l.dev)
	if err := os.Mkdir(filepath.Join(m.dir, "fio"), 0o755); err != nil {
		t.Fatal(err)
	}

	// fio: random 4 KiB writes to two files, an fsync every 16 writes.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fio := exec.CommandContext(ctx, "fio", "--name=snapload", "--directory="+filepath.Join(m.dir, "fio"),
		"--rw=randwrite", "--bs=4k", "--size=16m", "--numjobs=2", "--fsync=16", "--ioengine=psync",
		"--time_based", "--runtime=3", "--group_reporting")
	fioOut := &lockedBuffer{}
	fio.Stdout, fio.Stderr = fioOut, fioOut
	if err := fio.Start(); err != nil {
		t.Fatalf("start fio: %v", err)
	}
	fioDone := make(chan error, 1)
	go func() { fioDone <- fio.Wait() }()
	t.Cleanup(func() { // before the unmount (cleanups run last in, first out)
		cancel()
		<-fioDone
	})

	// Our writer: file-NNNN, written, fsynced, its directory fsynced.
	w := &snapWriter{dir: m.dir, synced: map[string]string{}, started: map[string]time.Time{}}
	stop := make(chan struct{})
	werr := make(chan error, 1)
	go func() { werr <- w.run(stop) }()
	var stopOnce sync.Once
	var writerErr error
	stopWriter := func() error {
		stopOnce.Do(func() {
			close(stop)
			writerErr = <-werr
		})
		return writerErr
	}
	t.Cleanup(func() { stopWriter() })

	deadline := time.Now().Add(20 * time.Second)
	for w.count() < 20 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(time.Duration(300+mrand.IntN(300)) * time.Millisecond) // fio well under way
	before := w.snapshotSynced()
	if len(before) < 20 {
		t.Fatalf("only %d files fsynced in 20s", len(before))
	}
	snap := snapCreate(t, d, vol)
	after := time.Now()
	time.Sleep(300 * time.Millisecond) // more writes after the snapshot
	if err := stopWriter(); err != nil {
		t.Fatalf("writer: %v", err)
	}
	select {
	case err := <-fioDone:
		fioDone <- err // for the cleanup
		if err != nil {
			t.Fatalf("fio: %v\n%s", err, fioOut.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("fio did not finish")
	}
	later := w.startedAfter(after)
	t.Logf("snapshot taken after %d fsynced files; %d files were started after it returned", len(before), len(later))
	m.unmount()
	l.detach()

	// The snapshot's state: completed at once, encrypted like its volume.
	if s := snapDescribe(t, d, snap); s["State"] != "completed" || s["Encrypted"] != true {
		t.Fatalf("snapshot of a busy volume: %v", s)
	}
	nv := e.createVolume("--snapshot-id", snap)
	l = losetup(t, e.attach(nv), snapLoopFlags...)
	m = mountFS(t, l.dev) // replays the journal
	got := treeSums(t, m.dir)
	for name, sum := range before {
		if got[name] != sum {
			t.Errorf("file %s, fsynced before create-snapshot: sha256 %q in the snapshot, want %s", name, got[name], sum)
		}
	}
	for _, name := range later {
		if _, ok := got[name]; ok {
			t.Errorf("file %s, created after create-snapshot returned, is in the snapshot", name)
		}
	}
	m.unmount()
	if out, err := exec.Command("e2fsck", "-fn", l.dev).CombinedOutput(); err != nil {
		t.Fatalf("e2fsck -fn on the restored snapshot (after the journal replay): %v\n%s", err, out)
	}
	l.detach()
	e.detach(nv)
	e.detach(vol)
}

// snapWriter creates files one after the other in dir; synced holds the
// sha256 of those whose data and directory entry were fsynced.
type snapWriter struct {
	dir     string
	mu      sync.Mutex
	synced  map[string]string
	started map[string]time.Time
}

func (w *snapWriter) run(stop chan struct{}) error {
	dir, err := os.Open(w.dir)
	if err != nil {
		return err
	}
	defer dir.Close()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return nil
		default:
		}
		name := fmt.Sprintf("file-%04d", i)
		data := make([]byte, 4096+mrand.IntN(192<<10))
		rand.Read(data)
		w.mu.Lock()
		w.started[name] = time.Now()
		w.mu.Unlock()
		f, err := os.Create(filepath.Join(w.dir, name))
		if err != nil {
			return err
		}
		_, err = f.Write(data)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = dir.Sync()
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		w.mu.Lock()
		w.synced[name] = sha(data)
		w.mu.Unlock()
	}
}

func (w *snapWriter) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.synced)
}

// snapshotSynced copies the files fsynced so far.
func (w *snapWriter) snapshotSynced() map[string]string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]string, len(w.synced))
	for k, v := range w.synced {
		out[k] = v
	}
	return out
}

// startedAfter lists the files whose creation began after t.
func (w *snapWriter) startedAfter(t time.Time) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for name, at := range w.started {
		if at.After(t) {
			out = append(out, name)
		}
	}
	return out
}

// lockedBuffer is an output buffer safe for a process's writers and the test.
type lockedBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

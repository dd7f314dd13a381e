package e2e

import (
	"fmt"
	mrand "math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ebs"

	"github.com/ebs-dev/ebs/fs/crashfs"
)

// TestPowerCutKeepsFsyncedWrites cuts the power (fs/crashfs: everything
// not made durable by an fsync is lost) 20 times under fsync'd random
// 4 KiB writes to two volumes (one encrypted), with a loop of bare fsyncs
// on each and snapshots of both taken beside them, and checks after each
// restart that every write acknowledged by a returned fsync is there (the
// block holds it or a later intact write) and that every snapshot
// CreateSnapshot acknowledged exists and holds what fsyncs had acknowledged
// before it was asked for. Every other cut comes after the writers have
// stopped, so that no later write can make up for a lost one. It goes on
// after a loss, so that the report says how often and how much was lost.
func TestPowerCutKeepsFsyncedWrites(t *testing.T) {
	addr := freeLoopbackAddr(t)
	// Every sync commits the namespace, as on ext4: this test is about the
	// data (TestPowerCutNeedsDirectorySyncs is about the names).
	c := startCutDaemon(t, crashfs.Options{Journaled: true}, "--listen", addr)
	ep := &awsEndpoint{daemon: c.d, url: "http://" + addr}
	reader := ep.ebsClient(ep.newAccessKey("reader"))
	vols := []*cutVolume{
		{id: c.createVolume("--size", "1", "--encrypted")},
		{id: c.createVolume("--size", "1")},
	}
	const (
		rounds  = 20
		writers = 2   // per volume
		blocks  = 512 // the first 2 MiB of each volume
		region  = blocks * 4096
	)
	for _, v := range vols {
		v.file = c.attach(v.id)
		v.st = &crashState{synced: map[uint64]uint64{}, issued: map[uint64]uint64{}}
		v.tainted = map[uint64]bool{}
		v.st.fill(t, v.file, blocks)
	}
	c.syncAll()
	var snaps []*cutSnapshot
	lostRounds := 0
	var summary []string
	for round := uint32(1); round <= rounds; round++ {
		var wg, writing sync.WaitGroup
		var fsyncs atomic.Int64
		stop := make(chan struct{})
		for _, v := range vols {
			v.st.stop.Store(false)
			for w := range writers {
				f := openForRound(t, v.file, round)
				writing.Add(1)
				go func() {
					defer writing.Done()
					defer f.Close()
					var written atomic.Int64
					v.st.write(f, round, uint64(w), writers, blocks, &written, &fsyncs)
				}()
			}
			// Fsyncs with nothing written: flushes of the store that
			// other writers' writes race with.
			f := openForRound(t, v.file, round)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer f.Close()
				syncUntil(f, stop)
			}()
		}
		var taken []*cutSnapshot
		snapDone := make(chan struct{})
		go func() {
			defer close(snapDone)
			taken = takeSnapshots(c.d, vols, round, stop)
		}()
		deadline := time.Now().Add(20 * time.Second)
		for fsyncs.Load() < 2*writers && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(time.Duration(100+mrand.IntN(400)) * time.Millisecond)
		how := "under load"
		if round%2 == 1 {
			// The writers stop after their next fsync, then the power goes:
			// nothing written later can make up for a write whose data an
			// acknowledged fsync left behind.
			how = "after the writers stopped"
			for _, v := range vols {
				v.st.stop.Store(true)
			}
			writing.Wait()
			time.Sleep(20 * time.Millisecond)
		}
		r := c.powerCut(func() {
			close(stop)
			writing.Wait()
			wg.Wait()
			<-snapDone
		})
		snaps = append(snaps, taken...)

		lost := 0
		for _, v := range vols {
			lost += v.verify(t, round, region)
		}
		lost += checkSnapshots(t, c.d, reader, snaps, taken, region)
		t.Logf("round %d: cut %s after %d fsyncs, %d snapshots acknowledged; %d files rolled back (%d pages); %d problems",
			round, how, fsyncs.Load(), len(taken), r.Files, r.Pages, lost)
		if lost > 0 {
			lostRounds++
			summary = append(summary, fmt.Sprintf("round %d: %d", round, lost))
		}
	}
	if lostRounds > 0 {
		t.Errorf("%d of %d power cuts lost acknowledged data (problems per round: %s)", lostRounds, rounds, strings.Join(summary, ", "))
	}
}

// openForRound opens a volume file for one round's writer.
func openForRound(t *testing.T, path string, round uint32) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("round %d: open %s: %v", round, path, err)
	}
	return f
}

// syncUntil fsyncs f in a loop until stop is closed or an fsync fails.
func syncUntil(f *os.File, stop chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		if f.Sync() != nil {
			return
		}
	}
}

// cutVolume is a volume the power-cut test writes: the writers' record,
// and the blocks whose loss was reported already.
type cutVolume struct {
	id, file string
	st       *crashState
	tainted  map[uint64]bool
}

// verify reads the volume's region after a restart and reports (t.Errorf)
// every block that lost an acknowledged write or holds what was never
// written; it returns how many. Such blocks are not reported again until an
// fsync acknowledges a new write to them.
func (v *cutVolume) verify(t *testing.T, round uint32, n int) int {
	t.Helper()
	data := readRegion(t, v.file, n)
	synced, issued := v.st.snapshotCrash()
	problems := checkCrashBlocks(data, synced, issued, v.tainted)
	for b := range synced {
		delete(v.tainted, b)
	}
	v.st.mu.Lock()
	defer v.st.mu.Unlock()
	for _, p := range problems {
		t.Errorf("round %d: %s block %d: %s", round, v.id, p.block, p.what)
		v.tainted[p.block] = true
		delete(v.st.synced, p.block) // lost: from now on the block is whatever it holds
	}
	return len(problems)
}

// cutSnapshot is a snapshot CreateSnapshot acknowledged, with the writers'
// record when it was asked for (lo) and when it answered (hi).
type cutSnapshot struct {
	id, vol string
	round   uint32
	lo, hi  map[uint64]uint64
	skip    map[uint64]bool
	checked bool
}

// takeSnapshots runs create-snapshot of each volume in turn until stop is
// closed or the daemon dies, and returns those that were acknowledged.
func takeSnapshots(d *daemon, vols []*cutVolume, round uint32, stop chan struct{}) []*cutSnapshot {
	var out []*cutSnapshot
	for i := 0; ; i++ {
		select {
		case <-stop:
			return out
		case <-time.After(time.Duration(20+mrand.IntN(80)) * time.Millisecond):
		}
		v := vols[i%len(vols)]
		lo, _ := v.st.snapshotCrash()
		skip := map[uint64]bool{}
		v.st.mu.Lock()
		for b := range v.tainted {
			skip[b] = true
		}
		v.st.mu.Unlock()
		res, err := d.cli("ec2", "create-snapshot", "--volume-id", v.id)
		if err != nil {
			return out // the daemon died
		}
		_, hi := v.st.snapshotCrash()
		id, _ := res["SnapshotId"].(string)
		out = append(out, &cutSnapshot{id: id, vol: v.id, round: round, lo: lo, hi: hi, skip: skip})
	}
}

// checkSnapshots checks that every acknowledged snapshot exists and is
// completed, and reads back those of this round (and one older one): each
// holds what was acknowledged before it was asked for. It reports with
// t.Errorf and returns the number of problems.
func checkSnapshots(t *testing.T, d *daemon, c *ebs.Client, all, taken []*cutSnapshot, n int) int {
	t.Helper()
	if len(all) == 0 {
		return 0
	}
	ids := make([]string, len(all))
	for i, s := range all {
		ids[i] = s.id
	}
	res, err := d.cli(append([]string{"ec2", "describe-snapshots", "--snapshot-ids"}, ids...)...)
	problems := 0
	if err != nil {
		t.Errorf("describe-snapshots of the %d acknowledged snapshots: %v", len(all), err)
		return 1
	}
	found := map[string]string{}
	for _, s := range res["Snapshots"].([]any) {
		m := s.(map[string]any)
		found[m["SnapshotId"].(string)], _ = m["State"].(string)
	}
	for _, s := range all {
		if found[s.id] != "completed" {
			t.Errorf("snapshot %s of %s (round %d), acknowledged: state %q after the cut", s.id, s.vol, s.round, found[s.id])
			problems++
		}
	}
	check := append([]*cutSnapshot(nil), taken...)
	if old := all[mrand.IntN(len(all))]; old.round != taken0(taken) {
		check = append(check, old)
	}
	for _, s := range check {
		data := snapshotRegion(t, c, s.id, n)
		for _, p := range checkCrashBlocks(data, s.lo, s.hi, s.skip) {
			t.Errorf("snapshot %s of %s (round %d) block %d: %s", s.id, s.vol, s.round, p.block, p.what)
			problems++
		}
	}
	return problems
}

func taken0(taken []*cutSnapshot) uint32 {
	if len(taken) == 0 {
		return 0
	}
	return taken[0].round
}

// snapshotRegion reads the first n bytes of a snapshot with the EBS direct
// APIs (blocks not listed are zeros).
func snapshotRegion(t *testing.T, c *ebs.Client, id string, n int) []byte {
	t.Helper()
	data := make([]byte, n)
	for _, b := range listBlocks(t, c, id) {
		off := int(aws.ToInt32(b.BlockIndex)) * ebsBlock
		if off >= n {
			break
		}
		copy(data[off:], getBlock(t, c, id, b))
	}
	return data
}

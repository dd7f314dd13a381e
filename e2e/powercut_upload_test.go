package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ebs"
	"github.com/aws/aws-sdk-go-v2/service/ebs/types"

	"github.com/ebs-dev/ebs/fs/crashfs"
)

// TestPowerCutDuringUpload writes an encrypted snapshot with the EBS direct
// APIs (the unmodified SDK) and cuts the power three times while
// PutSnapshotBlock calls run, with another volume written and fsynced
// beside them. As on AWS, the upload is still pending after each restart
// and the client puts every block it has no acknowledgement for; then
// CompleteSnapshot with every block's count and LINEAR checksum, and the
// snapshot, restored to a volume, must read back byte for byte: a block
// PutSnapshotBlock acknowledged before a cut is not put again, so it must
// have survived it.
func TestPowerCutDuringUpload(t *testing.T) {
	addr := freeLoopbackAddr(t)
	c := startCutDaemon(t, crashfs.Options{Journaled: true}, "--listen", addr)
	ep := &awsEndpoint{daemon: c.d, url: "http://" + addr}
	client := ep.ebsClient(ep.newAccessKey("uploader"))
	other := &cutVolume{id: c.createVolume("--size", "1"), tainted: map[uint64]bool{}}
	other.file = c.attach(other.id)
	other.st = &crashState{synced: map[uint64]uint64{}, issued: map[uint64]uint64{}}
	other.st.fill(t, other.file, 256)
	c.syncAll()

	const blocks, cuts = 48, 3
	img := make([]byte, blocks*ebsBlock)
	rand.Read(img)
	start, err := client.StartSnapshot(t.Context(), &ebs.StartSnapshotInput{VolumeSize: aws.Int64(1), Encrypted: aws.Bool(true)})
	if err != nil {
		t.Fatalf("StartSnapshot: %v", err)
	}
	id := aws.ToString(start.SnapshotId)
	acked := make([]bool, blocks) // PutSnapshotBlock answered 201
	for cut := 1; cut <= cuts+1; cut++ {
		var todo []int32
		for i := range int32(blocks) {
			if !acked[i] {
				todo = append(todo, i)
			}
		}
		if cut > cuts { // the rest, then complete
			if errs := putBlocks(client, id, img, todo, acked, len(todo)); len(errs) > 0 {
				t.Fatalf("PutSnapshotBlock after the last cut: %v", errs[0])
			}
			break
		}
		round := uint32(cut)
		var writing, syncing sync.WaitGroup
		stop := make(chan struct{})
		other.st.stop.Store(false)
		f := openForRound(t, other.file, round)
		writing.Add(1)
		go func() {
			defer writing.Done()
			defer f.Close()
			var written, fsyncs atomic.Int64
			other.st.write(f, round, 0, 1, 256, &written, &fsyncs)
		}()
		g := openForRound(t, other.file, round)
		syncing.Add(1)
		go func() {
			defer syncing.Done()
			defer g.Close()
			syncUntil(g, stop)
		}()
		// Puts of a third of what is left: the first half beside the other
		// volume's writes and fsyncs, the second half beside its fsyncs
		// only (a write there would make up for a lost block); then the
		// power goes.
		n := (len(todo) + 2) / 3
		errs := putBlocks(client, id, img, todo[:n/2], acked, n/2)
		other.st.stop.Store(true)
		writing.Wait()
		errs = append(errs, putBlocks(client, id, img, todo[n/2:], acked, n-n/2)...)
		if len(errs) > 0 {
			t.Fatalf("cut %d: PutSnapshotBlock before the cut: %v", cut, errs[0])
		}
		r := c.powerCut(func() {
			close(stop)
			syncing.Wait()
		})
		done := 0
		for _, a := range acked {
			if a {
				done++
			}
		}
		t.Logf("cut %d: %d of %d blocks acknowledged; %d files rolled back (%d pages)", cut, done, blocks, r.Files, r.Pages)
		if s := snapDescribe(t, c.d, id); s["State"] != "pending" {
			t.Fatalf("cut %d: the upload is %v after the restart, want pending (resumable)", cut, s["State"])
		}
		other.verify(t, round, 256*4096)
	}

	h := sha256.New()
	for i := range blocks {
		s := sha256.Sum256(img[i*ebsBlock : (i+1)*ebsBlock])
		h.Write(s[:])
	}
	done, err := client.CompleteSnapshot(t.Context(), &ebs.CompleteSnapshotInput{
		SnapshotId: aws.String(id), ChangedBlocksCount: aws.Int32(blocks),
		Checksum: aws.String(base64.StdEncoding.EncodeToString(h.Sum(nil))), ChecksumAlgorithm: types.ChecksumAlgorithmChecksumAlgorithmSha256,
		ChecksumAggregationMethod: types.ChecksumAggregationMethodChecksumAggregationLinear,
	})
	if err != nil {
		t.Fatalf("CompleteSnapshot after %d power cuts: %v", cuts, err)
	}
	if done.Status != types.StatusCompleted {
		t.Fatalf("CompleteSnapshot: status %s", done.Status)
	}
	vol := c.createVolume("--snapshot-id", id)
	got := readRegion(t, c.attach(vol), len(img))
	bad := 0
	for i := range blocks {
		if a, b := got[i*ebsBlock:(i+1)*ebsBlock], img[i*ebsBlock:(i+1)*ebsBlock]; !bytes.Equal(a, b) {
			t.Errorf("block %d of the restored snapshot differs from what PutSnapshotBlock acknowledged (%s)", i, firstDiff(a, b))
			bad++
		}
	}
	if bad == 0 {
		t.Logf("the snapshot read back byte for byte after %d power cuts", cuts)
	}
	c.detach(vol)
}

// putBlocks puts up to max of the listed blocks, 4 at a time, marks those
// acknowledged and returns the errors.
func putBlocks(c *ebs.Client, id string, img []byte, list []int32, acked []bool, max int) []error {
	work := make(chan int32)
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				_, err := putBlock(context.Background(), c, id, i, img[int(i)*ebsBlock:int(i+1)*ebsBlock])
				mu.Lock()
				if err != nil {
					errs = append(errs, fmt.Errorf("block %d: %w", i, err))
				} else {
					acked[i] = true
				}
				mu.Unlock()
			}
		}()
	}
	for _, i := range list[:min(max, len(list))] {
		work <- i
	}
	close(work)
	wg.Wait()
	return errs
}

// firstDiff says where two blocks first differ, and what the restored one
// holds there.
func firstDiff(got, want []byte) string {
	for i := range got {
		if got[i] != want[i] {
			zero := bytes.Equal(got[i/4096*4096:i/4096*4096+4096], make([]byte, 4096))
			return fmt.Sprintf("first at byte %d, in a 4 KiB block that reads as zeros: %v", i, zero)
		}
	}
	return "same"
}

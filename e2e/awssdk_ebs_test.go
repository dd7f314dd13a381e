package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ebs"
	"github.com/aws/aws-sdk-go-v2/service/ebs/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// TestEBSDirectUploadExt4 uploads a disk image made with mkfs.ext4 through
// StartSnapshot / PutSnapshotBlock / CompleteSnapshot with the unmodified
// SDK, as coldsnap does, restores it with create-volume --snapshot-id, and
// reads the files back through a read-only loop mount.
func TestEBSDirectUploadExt4(t *testing.T) {
	needVolumes(t, "losetup", "mkfs.ext4", "e2fsck")
	e, ep := startEBSDirect(t)
	c := ep.ebsClient(ep.newAccessKey("uploader"))

	src := t.TempDir()
	sums := map[string]string{}
	for i, size := range []int{1 << 20, 3<<20 + 123, 64 << 10, 7, 24 << 20} {
		name := fmt.Sprintf("file-%d", i)
		sums[name] = writeRandomFile(t, filepath.Join(src, name), size)
	}
	if err := os.MkdirAll(filepath.Join(src, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	sums["sub/nested"] = writeRandomFile(t, filepath.Join(src, "sub", "nested"), 200<<10)
	img := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 1<<30); err != nil {
		t.Fatal(err)
	}
	sh(t, "mkfs.ext4", "-q", "-F", "-d", src, img)

	began := time.Now()
	snap, blocks := uploadImage(t, c, img, &ebs.StartSnapshotInput{Encrypted: aws.Bool(true),
		Description: aws.String("ext4 image"), Tags: []types.Tag{{Key: aws.String("origin"), Value: aws.String("mkfs.ext4")}}})
	t.Logf("uploaded %d blocks of 512 KiB in %v", len(blocks), time.Since(began).Round(time.Millisecond))
	s := snapDescribe(t, ep.daemon, snap)
	if s["State"] != "completed" || s["VolumeId"] != "vol-ffffffff" || s["Encrypted"] != true || snapNum(t, s, "VolumeSize") != 1 {
		t.Errorf("describe-snapshots of the upload: %v", s)
	}
	var listed []int32
	for _, b := range listBlocks(t, c, snap) {
		listed = append(listed, aws.ToInt32(b.BlockIndex))
	}
	if !slices.Equal(listed, blocks) {
		t.Errorf("ListSnapshotBlocks: %d blocks, want the %d put", len(listed), len(blocks))
	}

	vol := e.createVolume("--snapshot-id", snap)
	file := e.attach(vol)
	sameFiles(t, file, img)
	l := losetup(t, file, "--read-only")
	m := mountFS(t, l.dev, "-o", "ro")
	if got := treeSums(t, m.dir); !sameSums(got, sums) {
		t.Errorf("files of the restored image:\n got %v\nwant %v", got, sums)
	}
	m.unmount()
	l.detach()
	e.detach(vol)
}

// TestEBSDirectDownload snapshots a volume written through its file,
// downloads the snapshot with ListSnapshotBlocks / GetSnapshotBlock and
// compares it with the volume byte for byte; ListChangedBlocks between two
// snapshots is exactly the 512 KiB blocks written in between.
func TestEBSDirectDownload(t *testing.T) {
	needVolumes(t)
	e, ep := startEBSDirect(t)
	c := ep.ebsClient(ep.newAccessKey("reader"))
	vol := e.createVolume("--size", "1", "--encrypted")
	file := e.attach(vol)
	snapFill(t, file, 0, 3<<20, 1)           // blocks 0-5
	snapFill(t, file, 100<<20+4096, 8192, 2) // block 200
	snapFill(t, file, 1<<30-ebsBlock, ebsBlock, 3)
	first := snapCreate(t, ep.daemon, vol)
	sameFiles(t, downloadSnapshot(t, c, first, 1<<30), file)

	written := map[int64]bool{}
	for _, w := range []struct{ off, n int64 }{{ebsBlock + 100, 10}, {300 << 20, 2 << 20}, {700<<20 - 4096, 8192}} {
		snapFill(t, file, w.off, w.n, uint64(w.off))
		for i := w.off / ebsBlock; i <= (w.off+w.n-1)/ebsBlock; i++ {
			written[i] = true
		}
	}
	second := snapCreate(t, ep.daemon, vol)
	sameFiles(t, downloadSnapshot(t, c, second, 1<<30), file)
	var changed []int64
	p := ebs.NewListChangedBlocksPaginator(c, &ebs.ListChangedBlocksInput{FirstSnapshotId: aws.String(first), SecondSnapshotId: aws.String(second), MaxResults: aws.Int32(100)})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatalf("ListChangedBlocks: %v", err)
		}
		for _, b := range page.ChangedBlocks {
			changed = append(changed, int64(aws.ToInt32(b.BlockIndex)))
			if b.SecondBlockToken == nil {
				t.Errorf("changed block %d has no SecondBlockToken", aws.ToInt32(b.BlockIndex))
			}
		}
	}
	if want := snapSorted(written); !slices.Equal(changed, want) {
		t.Errorf("ListChangedBlocks: %v, want %v", changed, want)
	}
	e.detach(vol)
}

// TestEBSDirectErrors: AWS's exceptions, typed by the SDK, with their
// Reason: bad checksums and lengths, unknown snapshots, writes to a
// completed snapshot, foreign and expired block tokens, a timed-out upload,
// a reused client token, and a caller the key's policy does not admit.
func TestEBSDirectErrors(t *testing.T) {
	_, ep := startEBSDirect(t)
	ctx := t.Context()
	c := ep.ebsClient(ep.newAccessKey("alice"))
	block := bytes.Repeat([]byte("ebs direct "), ebsBlock/11+1)[:ebsBlock]

	start, err := c.StartSnapshot(ctx, &ebs.StartSnapshotInput{VolumeSize: aws.Int64(1), ClientToken: aws.String("tok-1")})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(start.SnapshotId)
	if start.Status != types.StatusPending || aws.ToInt32(start.BlockSize) != ebsBlock || aws.ToInt64(start.VolumeSize) != 1 ||
		aws.ToString(start.OwnerId) != "000000000000" || start.SseType != types.SSETypeNone || start.KmsKeyArn != nil ||
		start.StartTime == nil || time.Since(*start.StartTime).Abs() > time.Minute {
		t.Errorf("StartSnapshot: %+v", start)
	}
	again, err := c.StartSnapshot(ctx, &ebs.StartSnapshotInput{VolumeSize: aws.Int64(1), ClientToken: aws.String("tok-1")})
	if err != nil || aws.ToString(again.SnapshotId) != id {
		t.Errorf("StartSnapshot again with the same ClientToken: %v, %v", again, err)
	}
	_, err = c.StartSnapshot(ctx, &ebs.StartSnapshotInput{VolumeSize: aws.Int64(2), ClientToken: aws.String("tok-1")})
	wantTyped[*types.ConflictException](t, err)
	_, err = c.StartSnapshot(ctx, &ebs.StartSnapshotInput{VolumeSize: aws.Int64(70000)})
	wantReason(t, err, types.ValidationExceptionReasonInvalidVolumeSize)

	_, err = c.PutSnapshotBlock(ctx, &ebs.PutSnapshotBlockInput{SnapshotId: aws.String(id), BlockIndex: aws.Int32(0),
		BlockData: bytes.NewReader(block), DataLength: aws.Int32(ebsBlock), Checksum: aws.String(sum64(block[1:])),
		ChecksumAlgorithm: types.ChecksumAlgorithmChecksumAlgorithmSha256})
	wantReason(t, err, types.ValidationExceptionReasonInvalidParameterValue)
	_, err = putBlock(ctx, c, id, 0, block[:4096])
	wantReason(t, err, types.ValidationExceptionReasonInvalidParameterValue)
	_, err = putBlock(ctx, c, id, 2048, block)
	wantReason(t, err, types.ValidationExceptionReasonInvalidBlock)
	_, err = putBlock(ctx, c, "snap-0123456789abcdef0", 0, block)
	if nf := wantTyped[*types.ResourceNotFoundException](t, err); nf.Reason != types.ResourceNotFoundExceptionReasonSnapshotNotFound {
		t.Errorf("unknown snapshot: Reason %q", nf.Reason)
	}
	if _, err := putBlock(ctx, c, id, 0, block); err != nil {
		t.Fatal(err)
	}
	_, err = c.CompleteSnapshot(ctx, &ebs.CompleteSnapshotInput{SnapshotId: aws.String(id), ChangedBlocksCount: aws.Int32(2)})
	wantTyped[*types.ValidationException](t, err)
	if _, err := c.CompleteSnapshot(ctx, &ebs.CompleteSnapshotInput{SnapshotId: aws.String(id), ChangedBlocksCount: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	_, err = putBlock(ctx, c, id, 1, block)
	wantTyped[*types.ValidationException](t, err)

	// Block tokens: another snapshot's is refused, and all expire after 7 days.
	other := uploadOne(t, c, block)
	mine, theirs := listBlocks(t, c, id), listBlocks(t, c, other)
	getBlock(t, c, id, mine[0])
	_, err = c.GetSnapshotBlock(ctx, &ebs.GetSnapshotBlockInput{SnapshotId: aws.String(id), BlockIndex: aws.Int32(0), BlockToken: theirs[0].BlockToken})
	wantReason(t, err, types.ValidationExceptionReasonInvalidBlockToken)
	ep.ok("debug", "advance-clock", "--days", "8")
	_, err = c.GetSnapshotBlock(ctx, &ebs.GetSnapshotBlockInput{SnapshotId: aws.String(id), BlockIndex: aws.Int32(0), BlockToken: mine[0].BlockToken})
	wantReason(t, err, types.ValidationExceptionReasonInvalidBlockToken)

	// An upload left alone past its Timeout ends in the error state.
	pending, err := c.StartSnapshot(ctx, &ebs.StartSnapshotInput{VolumeSize: aws.Int64(1), Timeout: aws.Int32(10)})
	if err != nil {
		t.Fatal(err)
	}
	ep.ok("debug", "advance-clock", "--hours", "1")
	_, err = putBlock(ctx, c, aws.ToString(pending.SnapshotId), 0, block)
	wantTyped[*types.ValidationException](t, err)
	if s := snapDescribe(t, ep.daemon, aws.ToString(pending.SnapshotId)); s["State"] != "error" {
		t.Errorf("timed-out upload: %v", s)
	}

	// A key whose policy names alice only: bob cannot start a snapshot under it.
	k := ep.kms(ep.newAccessKey("alice"))
	key, err := k.CreateKey(ctx, &kms.CreateKeyInput{Policy: aws.String(allowOnly("arn:aws:iam::000000000000:user/alice"))})
	if err != nil {
		t.Fatal(err)
	}
	bob := ep.ebsClient(ep.newAccessKey("bob"))
	in := &ebs.StartSnapshotInput{VolumeSize: aws.Int64(1), Encrypted: aws.Bool(true), KmsKeyArn: key.KeyMetadata.Arn}
	_, err = bob.StartSnapshot(ctx, in)
	if ad := wantTyped[*types.AccessDeniedException](t, err); !strings.Contains(aws.ToString(ad.Message), "user/bob") {
		t.Errorf("AccessDeniedException for bob: %q", aws.ToString(ad.Message))
	}
	if out, err := c.StartSnapshot(ctx, in); err != nil {
		t.Errorf("alice's StartSnapshot under her key: %v", err)
	} else if out.SseType != types.SSETypeSseKms || aws.ToString(out.KmsKeyArn) != aws.ToString(key.KeyMetadata.Arn) {
		t.Errorf("alice's StartSnapshot under her key: SseType %q, KmsKeyArn %q", out.SseType, aws.ToString(out.KmsKeyArn))
	}
}

func wantReason(t *testing.T, err error, reason types.ValidationExceptionReason) {
	t.Helper()
	if ve := wantTyped[*types.ValidationException](t, err); ve.Reason != reason {
		t.Errorf("ValidationException %q: Reason %q, want %q", aws.ToString(ve.Message), ve.Reason, reason)
	}
}

// uploadOne uploads a 1 GiB snapshot holding one block at index 0.
func uploadOne(t *testing.T, c *ebs.Client, block []byte) string {
	t.Helper()
	out, err := c.StartSnapshot(t.Context(), &ebs.StartSnapshotInput{VolumeSize: aws.Int64(1)})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(out.SnapshotId)
	if _, err := putBlock(t.Context(), c, id, 0, block); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CompleteSnapshot(t.Context(), &ebs.CompleteSnapshotInput{SnapshotId: aws.String(id), ChangedBlocksCount: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestEBSDirectResume: a daemon crash (SIGKILL) in the middle of an upload
// keeps every block whose put was answered; the upload goes on after the
// restart and completes with the LINEAR aggregate of all of them.
func TestEBSDirectResume(t *testing.T) {
	_, ep := startEBSDirect(t)
	ctx := t.Context()
	k := ep.newAccessKey("resumer")
	c := ep.ebsClient(k)
	start, err := c.StartSnapshot(ctx, &ebs.StartSnapshotInput{VolumeSize: aws.Int64(1), Encrypted: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(start.SnapshotId)
	blocks := [][]byte{bytes.Repeat([]byte{1}, ebsBlock), bytes.Repeat([]byte{2}, ebsBlock)}
	if _, err := putBlock(ctx, c, id, 7, blocks[0]); err != nil {
		t.Fatal(err)
	}
	ep.kill()
	ep.start()
	c = ep.ebsClient(k)
	if _, err := putBlock(ctx, c, id, 3, blocks[1]); err != nil {
		t.Fatalf("put after a restart: %v", err)
	}
	img := append(append(make([]byte, 3*ebsBlock), blocks[1]...), append(make([]byte, 3*ebsBlock), blocks[0]...)...)
	_, err = c.CompleteSnapshot(ctx, &ebs.CompleteSnapshotInput{SnapshotId: aws.String(id), ChangedBlocksCount: aws.Int32(2),
		Checksum: aws.String(linearOf(img, 3, 7)), ChecksumAlgorithm: types.ChecksumAlgorithmChecksumAlgorithmSha256,
		ChecksumAggregationMethod: types.ChecksumAggregationMethodChecksumAggregationLinear})
	if err != nil {
		t.Fatalf("complete after a restart: %v", err)
	}
	got := listBlocks(t, c, id)
	if len(got) != 2 || aws.ToInt32(got[0].BlockIndex) != 3 || aws.ToInt32(got[1].BlockIndex) != 7 {
		t.Fatalf("blocks after the resumed upload: %+v", got)
	}
	for i, b := range got {
		if data := getBlock(t, c, id, b); !bytes.Equal(data, blocks[1-i]) {
			t.Errorf("block %d differs", aws.ToInt32(b.BlockIndex))
		}
	}
}

// linearOf is the LINEAR aggregate checksum of the given blocks of img.
func linearOf(img []byte, blocks ...int) string {
	h := sha256.New()
	for _, i := range blocks {
		s := sha256.Sum256(img[i*ebsBlock : (i+1)*ebsBlock])
		h.Write(s[:])
	}
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

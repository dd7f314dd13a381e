package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ebs"
	"github.com/aws/aws-sdk-go-v2/service/ebs/types"
)

// ebsBlock is the EBS direct APIs' block size.
const ebsBlock = 512 << 10

// startEBSDirect starts a volume daemon (its own mount dir, cleanups that
// check no mount or loop device is left) that also listens for the AWS
// wire protocols.
func startEBSDirect(t *testing.T) (*volEnv, *awsEndpoint) {
	t.Helper()
	e := &volEnv{t: t, dataDir: t.TempDir(), mountDir: filepath.Join(t.TempDir(), "volumes")}
	root := filepath.Dir(e.dataDir)
	t.Cleanup(func() { checkNothingLeft(t, root, e.volumeIDs()...) })
	addr := freeLoopbackAddr(t)
	e.d = startDaemon(t, e.dataDir, "--mount-dir", e.mountDir, "--listen", addr)
	t.Cleanup(e.stopQuietly)
	return e, &awsEndpoint{daemon: e.d, url: "http://" + addr}
}

// ebsClient returns an unmodified aws-sdk-go-v2 EBS client for the endpoint,
// signing with k.
func (e *awsEndpoint) ebsClient(k accessKey) *ebs.Client {
	return ebs.New(ebs.Options{
		Region:       "local",
		BaseEndpoint: aws.String(e.url),
		Credentials:  credentials.NewStaticCredentialsProvider(k.id, k.secret, ""),
	})
}

func sum64(b []byte) string {
	s := sha256.Sum256(b)
	return base64.StdEncoding.EncodeToString(s[:])
}

// putBlock is PutSnapshotBlock of one block with its checksum.
func putBlock(ctx context.Context, c *ebs.Client, id string, index int32, data []byte) (*ebs.PutSnapshotBlockOutput, error) {
	return c.PutSnapshotBlock(ctx, &ebs.PutSnapshotBlockInput{
		SnapshotId: aws.String(id), BlockIndex: aws.Int32(index), BlockData: bytes.NewReader(data),
		DataLength: aws.Int32(int32(len(data))), Checksum: aws.String(sum64(data)),
		ChecksumAlgorithm: types.ChecksumAlgorithmChecksumAlgorithmSha256,
	})
}

// uploadImage does what coldsnap's upload does: it starts a snapshot of
// the image's size (whole GiB), puts every 512 KiB block that is not all
// zeros (8 at a time), and completes with ChangedBlocksCount and the
// LINEAR aggregate checksum. It returns the snapshot id and the blocks put.
func uploadImage(t *testing.T, c *ebs.Client, path string, start *ebs.StartSnapshotInput) (string, []int32) {
	t.Helper()
	ctx := t.Context()
	img, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	blocks, digests := nonZeroBlocks(t, img)
	fi, _ := img.Stat()
	start.VolumeSize = aws.Int64((fi.Size() + 1<<30 - 1) >> 30)
	out, err := c.StartSnapshot(ctx, start)
	if err != nil {
		t.Fatalf("StartSnapshot: %v", err)
	}
	id := aws.ToString(out.SnapshotId)
	if out.Status != types.StatusPending || aws.ToInt32(out.BlockSize) != ebsBlock {
		t.Fatalf("StartSnapshot: status %s, block size %d", out.Status, aws.ToInt32(out.BlockSize))
	}
	work := make(chan int32)
	errs := make(chan error, len(blocks))
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			data := make([]byte, ebsBlock)
			for i := range work {
				if _, err := img.ReadAt(data, int64(i)*ebsBlock); err != nil {
					errs <- err
					continue
				}
				res, err := putBlock(ctx, c, id, i, data)
				if err == nil && aws.ToString(res.Checksum) != sum64(data) {
					t.Errorf("PutSnapshotBlock %d answered checksum %s", i, aws.ToString(res.Checksum))
				}
				errs <- err
			}
		}()
	}
	for _, i := range blocks {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("PutSnapshotBlock: %v", err)
		}
	}
	h := sha256.New() // LINEAR: the SHA-256 of the blocks' digests in block order
	for _, d := range digests {
		h.Write(d)
	}
	done, err := c.CompleteSnapshot(ctx, &ebs.CompleteSnapshotInput{
		SnapshotId: aws.String(id), ChangedBlocksCount: aws.Int32(int32(len(blocks))),
		Checksum: aws.String(base64.StdEncoding.EncodeToString(h.Sum(nil))), ChecksumAlgorithm: types.ChecksumAlgorithmChecksumAlgorithmSha256,
		ChecksumAggregationMethod: types.ChecksumAggregationMethodChecksumAggregationLinear,
	})
	if err != nil {
		t.Fatalf("CompleteSnapshot: %v", err)
	}
	if done.Status != types.StatusCompleted {
		t.Fatalf("CompleteSnapshot: status %s", done.Status)
	}
	return id, blocks
}

// nonZeroBlocks lists the 512 KiB blocks of f that are not all zeros, in
// order, and their SHA-256 digests. It reads only the data ranges
// (SEEK_DATA/SEEK_HOLE): reading a hole costs the kernel as much as data.
func nonZeroBlocks(t *testing.T, f *os.File) ([]int32, [][]byte) {
	t.Helper()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	var blocks []int32
	var digests [][]byte
	buf, zero := make([]byte, ebsBlock), make([]byte, ebsBlock)
	next := int64(0) // the first block not looked at yet
	for _, r := range dataRanges(f, fi.Size()) {
		start, end := r[0], r[1]
		for i := max(next, start/ebsBlock); i*ebsBlock < end; i++ {
			n, err := f.ReadAt(buf, i*ebsBlock)
			if err != nil && err != io.EOF {
				t.Fatal(err)
			}
			clear(buf[n:])
			if !bytes.Equal(buf, zero) {
				s := sha256.Sum256(buf)
				blocks, digests = append(blocks, int32(i)), append(digests, s[:])
			}
			next = i + 1
		}
	}
	return blocks, digests
}

// listBlocks pages through ListSnapshotBlocks (100 a page).
func listBlocks(t *testing.T, c *ebs.Client, id string) []types.Block {
	t.Helper()
	var out []types.Block
	p := ebs.NewListSnapshotBlocksPaginator(c, &ebs.ListSnapshotBlocksInput{SnapshotId: aws.String(id), MaxResults: aws.Int32(100)})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatalf("ListSnapshotBlocks %s: %v", id, err)
		}
		if aws.ToInt32(page.BlockSize) != ebsBlock {
			t.Fatalf("ListSnapshotBlocks: BlockSize %d", aws.ToInt32(page.BlockSize))
		}
		out = append(out, page.Blocks...)
	}
	return out
}

// getBlock reads a block with GetSnapshotBlock and checks its checksum.
func getBlock(t *testing.T, c *ebs.Client, id string, b types.Block) []byte {
	t.Helper()
	out, err := c.GetSnapshotBlock(t.Context(), &ebs.GetSnapshotBlockInput{SnapshotId: aws.String(id), BlockIndex: b.BlockIndex, BlockToken: b.BlockToken})
	if err != nil {
		t.Fatalf("GetSnapshotBlock %d of %s: %v", aws.ToInt32(b.BlockIndex), id, err)
	}
	defer out.BlockData.Close()
	data, err := io.ReadAll(out.BlockData)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) != ebsBlock || aws.ToInt32(out.DataLength) != ebsBlock || aws.ToString(out.Checksum) != sum64(data) ||
		out.ChecksumAlgorithm != types.ChecksumAlgorithmChecksumAlgorithmSha256 {
		t.Fatalf("GetSnapshotBlock %d: %d bytes, DataLength %d, checksum %s (the data's: %s)", aws.ToInt32(b.BlockIndex), len(data),
			aws.ToInt32(out.DataLength), aws.ToString(out.Checksum), sum64(data))
	}
	return data
}

// downloadSnapshot writes every listed block of a snapshot at its offset
// of a sparse file of size bytes (coldsnap's download) and returns the path.
func downloadSnapshot(t *testing.T, c *ebs.Client, id string, size int64) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), id+".img")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	for _, b := range listBlocks(t, c, id) {
		if _, err := f.WriteAt(getBlock(t, c, id, b), int64(aws.ToInt32(b.BlockIndex))*ebsBlock); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// sameFiles compares two files byte for byte, 4 MiB at a time.
func sameFiles(t *testing.T, a, b string) {
	t.Helper()
	fa, err := os.Open(a)
	if err != nil {
		t.Fatal(err)
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()
	ba, bb := make([]byte, 4<<20), make([]byte, 4<<20)
	for off := int64(0); ; off += int64(len(ba)) {
		na, ea := io.ReadFull(fa, ba)
		nb, eb := io.ReadFull(fb, bb)
		if na != nb || !bytes.Equal(ba[:na], bb[:nb]) {
			t.Fatalf("%s and %s differ in the 4 MiB at %d (%d and %d bytes read)", filepath.Base(a), filepath.Base(b), off, na, nb)
		}
		if ea != nil || eb != nil {
			return
		}
	}
}

package e2e

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// Helpers of the golden data dir tests (golden_test.go): the manifest that
// scripts/make-golden-datadir.sh wrote, a copy of the fixture, and a sparse
// model of a volume's content.

// goldenManifest is manifest.json of a golden data dir (encoding/json
// matches its camelCase names to these fields regardless of case).
type goldenManifest struct {
	Format int
	Keys   []struct {
		KeyID, Arn, State, Description, CreationDate string
		Rotations                                    int
		RotationEnabled                              bool
		RotationPeriodInDays                         *int
	}
	Aliases []struct{ AliasName, AliasArn, TargetKeyID string }
	Grants  []struct {
		GrantID, Name, GranteePrincipal string
		Operations                      []string
		Constraints                     struct{ EncryptionContextSubset map[string]string }
	}
	Ciphertexts []struct {
		Name, KeyID       string
		EncryptionContext map[string]string
	}
	Volumes []struct {
		Name, VolumeID, KmsKeyID, SnapshotID, State, Sha256 string
		Encrypted                                           bool
		Size                                                int
	}
	Snapshots []struct {
		Name, SnapshotID, VolumeID, KmsKeyID, Description, State, Sha256, CopyOf string
		Encrypted                                                                bool
		VolumeSize                                                               int
	}
	AccessKeys             []struct{ User, AccessKeyID, SecretAccessKey, Status string }
	EbsEncryptionByDefault bool
	EbsDefaultKmsKeyID     string
	AuditEvents            int
}

// loadGoldenManifest reads dir/manifest.json.
func loadGoldenManifest(t *testing.T, dir string) *goldenManifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m goldenManifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("manifest: %v", err)
	}
	if len(m.Keys) == 0 || m.Keys[0].Arn == "" || len(m.Volumes) == 0 || m.Volumes[0].VolumeID == "" ||
		len(m.Snapshots) == 0 || len(m.Ciphertexts) == 0 || m.AuditEvents == 0 {
		t.Fatalf("manifest of %s is missing parts: %s", dir, b)
	}
	return &m
}

// copyGoldenDir copies a fixture data dir to a new temporary dir with the
// modes the daemon gives (0700 dirs, 0600 files) and returns the copy.
func copyGoldenDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "data")
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o700)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatalf("copy %s: %v", src, err)
	}
	return dst
}

// goldenFileState is what a file of a data dir looked like.
type goldenFileState struct {
	sum   string
	mode  fs.FileMode
	mtime time.Time
}

// goldenTree records every entry under dir: content hash, mode and mtime.
func goldenTree(t *testing.T, dir string) map[string]goldenFileState {
	t.Helper()
	m := map[string]goldenFileState{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := goldenFileState{mode: fi.Mode(), mtime: fi.ModTime()}
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			st.sum = fmt.Sprintf("%x", sha256.Sum256(b))
		}
		rel, _ := filepath.Rel(dir, p)
		m[rel] = st
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// goldenChanged lists the paths added, removed or changed (content, mode
// or mtime) between two goldenTree records.
func goldenChanged(before, after map[string]goldenFileState) []string {
	var out []string
	for p, b := range before {
		if a, ok := after[p]; !ok || a != b {
			out = append(out, p)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			out = append(out, p+" (new)")
		}
	}
	sort.Strings(out)
	return out
}

// goldenData is the reproducible content the script writes for a seed:
// AES-128-CTR keyed by the first 16 bytes of SHA-256(seed), IV 0, over zeros
// (what `openssl enc -aes-128-ctr` makes in scripts/make-golden-datadir.sh).
func goldenData(seed string, n int) []byte {
	k := sha256.Sum256([]byte(seed))
	block, _ := aes.NewCipher(k[:16])
	out := make([]byte, n)
	cipher.NewCTR(block, make([]byte, aes.BlockSize)).XORKeyStream(out, out)
	return out
}

const goldenBlock = 4096

// goldenImage is a volume's content: the 4 KiB blocks that are not all
// zeros, by block number.
type goldenImage struct {
	size   int64
	blocks map[int64][]byte
}

// readGoldenImage reads a whole file (an attached volume) and returns its
// content and the hex SHA-256 of all of it. A goroutine reads ahead while
// the chunk before is hashed.
func readGoldenImage(t *testing.T, path string) (*goldenImage, string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer f.Close()
	const chunk = 4 << 20
	full, free := make(chan []byte, 2), make(chan []byte, 3)
	for range 3 {
		free <- make([]byte, chunk)
	}
	var readErr error
	go func() {
		defer close(full)
		for buf := range free {
			n, err := io.ReadFull(f, buf)
			if n > 0 {
				full <- buf[:n]
			}
			if err != nil {
				if err != io.EOF && err != io.ErrUnexpectedEOF {
					readErr = err
				}
				return
			}
		}
	}()
	img := &goldenImage{blocks: map[int64][]byte{}}
	h := sha256.New()
	zero := make([]byte, goldenBlock)
	for buf := range full {
		h.Write(buf)
		for off := 0; off < len(buf); off += goldenBlock {
			b := buf[off:min(off+goldenBlock, len(buf))]
			if !bytes.Equal(b, zero[:len(b)]) {
				img.blocks[(img.size+int64(off))/goldenBlock] = bytes.Clone(b)
			}
		}
		img.size += int64(len(buf))
		free <- buf[:chunk]
	}
	if readErr != nil {
		t.Fatalf("read %s: %v", path, readErr)
	}
	return img, hex.EncodeToString(h.Sum(nil))
}

func newGoldenImage(size int64) *goldenImage {
	return &goldenImage{size: size, blocks: map[int64][]byte{}}
}

func (g *goldenImage) clone() *goldenImage {
	c := newGoldenImage(g.size)
	for i, b := range g.blocks {
		c.blocks[i] = bytes.Clone(b)
	}
	return c
}

// write puts data at off; punch (data nil) zeroes n bytes at off.
func (g *goldenImage) write(off int64, data []byte, n int64) {
	for done := int64(0); done < n; {
		i, in := (off+done)/goldenBlock, (off+done)%goldenBlock
		m := min(goldenBlock-in, n-done)
		b, ok := g.blocks[i]
		if !ok {
			b = make([]byte, goldenBlock)
		}
		if data != nil {
			copy(b[in:in+m], data[done:done+m])
		} else {
			clear(b[in : in+m])
		}
		g.blocks[i] = b
		done += m
	}
}

// at returns n bytes at off.
func (g *goldenImage) at(off, n int64) []byte {
	out := make([]byte, n)
	for done := int64(0); done < n; {
		i, in := (off+done)/goldenBlock, (off+done)%goldenBlock
		m := min(goldenBlock-in, n-done)
		if b, ok := g.blocks[i]; ok {
			copy(out[done:done+m], b[in:in+m])
		}
		done += m
	}
	return out
}

// sum is the hex SHA-256 of the whole content.
func (g *goldenImage) sum() string {
	h := sha256.New()
	zero := make([]byte, goldenBlock)
	for i := int64(0); i*goldenBlock < g.size; i++ {
		if b, ok := g.blocks[i]; ok {
			h.Write(b)
		} else {
			h.Write(zero)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// extents describes where the content is, for failure messages.
func (g *goldenImage) extents() string {
	var idx []int64
	for i := range g.blocks {
		idx = append(idx, i)
	}
	sort.Slice(idx, func(a, b int) bool { return idx[a] < idx[b] })
	var parts []string
	for k := 0; k < len(idx); {
		j := k
		for j+1 < len(idx) && idx[j+1] == idx[j]+1 {
			j++
		}
		parts = append(parts, fmt.Sprintf("[%d, %d)", idx[k]*goldenBlock, (idx[j]+1)*goldenBlock))
		k = j + 1
	}
	return fmt.Sprintf("%d bytes, non-zero 4 KiB blocks at %s", g.size, strings.Join(parts, " "))
}

// goldenWrite writes data at off of an attached volume's file and fsyncs.
func goldenWrite(t *testing.T, path string, off int64, data []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(data, off); err != nil {
		t.Fatalf("write %s at %d: %v", path, off, err)
	}
	if err := f.Sync(); err != nil {
		t.Fatalf("fsync %s: %v", path, err)
	}
}

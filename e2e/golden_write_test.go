package e2e

import (
	"encoding/base64"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// writeMore changes the upgraded data dir the ways a user would, and
// records what it must hold after the restart: a rotation of an old key,
// a new key and ciphertexts, writes to every old volume (over blocks that
// snapshots share, over the restored volume's own blocks, and a discard),
// a snapshot, and a new volume, whose unwritten blocks must read as zeros
// (a lineage id handed out again would show another volume's data).
func (g *goldenEnv) writeMore() {
	t, d := g.t, g.d()
	t.Helper()
	keyA := g.aliases["alias/golden-a"]
	d.ok("kms", "rotate-key-on-demand", "--key-id", "alias/golden-a")
	g.keys[keyA]++
	newKey := str(t, d.ok("kms", "create-key", "--description", "made after the upgrade"), "KeyMetadata", "KeyId")
	g.keys[newKey] = 0
	d.ok("kms", "create-alias", "--alias-name", "alias/golden-after-upgrade", "--target-key-id", newKey)
	g.aliases["alias/golden-after-upgrade"] = newKey
	g.encrypt("after-a", keyA, uint32(g.keys[keyA]+1), map[string]string{"phase": "after-upgrade"})
	g.encrypt("after-new", newKey, 1, nil)

	const MiB = 1 << 20
	byName := map[string]string{}
	for _, v := range g.m.Volumes {
		byName[v.Name] = v.VolumeID
	}
	plain, enc, restored := byName["plain"], byName["encrypted"], byName["restored"]
	g.e.attach(plain)
	g.write(plain, 200*MiB+100, goldenData("after-plain-1", 12345))
	g.e.detach(plain)

	g.e.attach(enc)
	g.write(enc, 4096, goldenData("after-encrypted-1", 8192)) // blocks both snapshots share
	g.write(enc, 1<<30-8192, goldenData("after-encrypted-2", 8192))
	snap := snapCreate(t, d, enc)
	g.snaps[snap] = g.images[enc].sum()
	g.e.detach(enc)

	g.write(restored, 600*MiB, goldenData("after-restored-1", 4096)) // its own block, attached since the start
	g.punch(restored, 96<<10, 4096)

	vol := g.e.createVolume("--size", "1") // encrypted by default, under key A
	if v := snapVolume(t, d, vol); v["Encrypted"] != true || v["KmsKeyId"] != g.m.EbsDefaultKmsKeyID {
		t.Errorf("a new volume with encryption by default: %v", v)
	}
	g.images[vol] = newGoldenImage(1 << 30)
	g.e.attach(vol)
	g.write(vol, 0, goldenData("after-new-1", 65536))
	g.write(vol, 300*MiB+5, goldenData("after-new-2", 5000))
	g.e.detach(vol)
}

// encrypt makes a ciphertext to decrypt after the restart.
func (g *goldenEnv) encrypt(name, keyID string, version uint32, ctx map[string]string) {
	g.t.Helper()
	plain := []byte("written after the upgrade: " + name)
	args := []string{"kms", "encrypt", "--key-id", keyID, "--plaintext", base64.StdEncoding.EncodeToString(plain)}
	var pairs []string
	for k, v := range ctx {
		pairs = append(pairs, k+"="+v)
	}
	if len(pairs) > 0 {
		args = append(args, "--encryption-context", strings.Join(pairs, ","))
	}
	blob, err := base64.StdEncoding.DecodeString(str(g.t, g.d().ok(args...), "CiphertextBlob"))
	if err != nil {
		g.t.Fatal(err)
	}
	g.ciphertexts = append(g.ciphertexts, goldenCiphertext{name: name, keyID: keyID, context: ctx, blob: blob, plain: plain, version: version})
}

// write writes data to an attached volume and to its model.
func (g *goldenEnv) write(vol string, off int64, data []byte) {
	g.t.Helper()
	goldenWrite(g.t, g.e.file(vol), off, data)
	g.images[vol].write(off, data, int64(len(data)))
	g.vols[vol] = "" // the model's: checkVolumes computes it
}

// punch discards n bytes of an attached volume (FALLOC_FL_PUNCH_HOLE).
func (g *goldenEnv) punch(vol string, off, n int64) {
	g.t.Helper()
	f, err := os.OpenFile(g.e.file(vol), os.O_RDWR, 0)
	if err != nil {
		g.t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n); err != nil {
		g.t.Fatalf("punch %s at %d: %v", vol, off, err)
	}
	if err := f.Sync(); err != nil {
		g.t.Fatal(err)
	}
	g.images[vol].write(off, nil, n)
	g.vols[vol] = ""
}

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/ebs-dev/ebs/internal/datadir"
)

// The on-disk format tests: the current daemon opens data dirs that older
// ebs made (testdata/golden-*, made by scripts/make-golden-datadir.sh),
// upgrades them and reads back everything they hold; it refuses a data
// dir of a newer format and leaves it as it was.

// goldenV1 is a data dir of format 1, made by commit ff213ed.
const goldenV1 = "testdata/golden-v1"

// goldenEnv is a daemon on a copy of a golden data dir, and what that dir
// must hold: the manifest's, updated as the test writes more.
type goldenEnv struct {
	t     *testing.T
	m     *goldenManifest
	src   string
	e     *volEnv
	aws   *awsEndpoint
	phase string // for messages: "after the upgrade", "after a restart"

	keys        map[string]int    // key id -> rotations
	aliases     map[string]string // alias name -> key id
	ciphertexts []goldenCiphertext
	vols        map[string]string       // volume id -> SHA-256 of its content, "" for images[id]'s
	snaps       map[string]string       // snapshot id -> SHA-256 of its content
	images      map[string]*goldenImage // volume or snapshot id -> its content, once read
}

// goldenCiphertext is a KMS ciphertext and what decrypting it must give.
type goldenCiphertext struct {
	name     string
	keyID    string
	context  map[string]string
	blob     []byte
	plain    []byte
	version  uint32 // the key material version in the blob's header
	wantCode string // the AWS error code, when it must fail
}

func TestGoldenV1DataDir(t *testing.T) {
	needVolumes(t)
	g := startGolden(t, goldenV1)
	g.wantFormat(fmt.Sprintf("%d\n", datadir.Current))
	g.check(true)

	g.writeMore()
	log := g.stop()
	for _, want := range []string{"upgrading data dir from format 1 to 2", "data dir upgraded to format 2", "volume attached again"} {
		if !strings.Contains(log, want) {
			t.Errorf("the first start's log does not say %q:\n%s", want, log)
		}
	}

	g.start("after a restart")
	g.check(false)
	if log := g.stop(); strings.Contains(log, "upgrading data dir") {
		t.Errorf("the second start upgraded the data dir again:\n%s", log)
	}
	g.wantFormat(fmt.Sprintf("%d\n", datadir.Current))
}

// startGolden copies the fixture's data dir and starts the current daemon
// on it, with the AWS endpoint.
func startGolden(t *testing.T, src string) *goldenEnv {
	t.Helper()
	m := loadGoldenManifest(t, src)
	if m.Format != 1 {
		t.Fatalf("%s is format %d; this test reads format 1", src, m.Format)
	}
	g := &goldenEnv{t: t, m: m, src: src, keys: map[string]int{}, aliases: map[string]string{},
		vols: map[string]string{}, snaps: map[string]string{}, images: map[string]*goldenImage{}}
	for _, k := range m.Keys {
		g.keys[k.KeyID] = k.Rotations
	}
	for _, a := range m.Aliases {
		g.aliases[a.AliasName] = a.TargetKeyID
	}
	for _, v := range m.Volumes {
		g.vols[v.VolumeID] = v.Sha256
	}
	for _, s := range m.Snapshots {
		g.snaps[s.SnapshotID] = s.Sha256
	}
	for _, c := range m.Ciphertexts {
		gc := goldenCiphertext{name: c.Name, keyID: c.KeyID, context: c.EncryptionContext, version: 1}
		gc.blob = g.readFixture("ciphertexts/" + c.Name + ".bin")
		gc.plain = g.readFixture("ciphertexts/" + c.Name + ".plain")
		if strings.HasPrefix(c.Name, "a-v3-") {
			gc.version = 3 // made after key A's two rotations
		}
		if c.Name == "c-disabled" {
			gc.wantCode = "DisabledException"
		}
		g.ciphertexts = append(g.ciphertexts, gc)
	}

	dataDir := copyGoldenDir(t, filepath.Join(src, "datadir"))
	g.e = &volEnv{t: t, dataDir: dataDir, mountDir: filepath.Join(t.TempDir(), "volumes")}
	root := filepath.Dir(filepath.Dir(dataDir)) // the parent of all of the test's TempDirs
	t.Cleanup(func() { checkNothingLeft(t, root, g.e.volumeIDs()...) })
	addr := freeLoopbackAddr(t)
	g.e.d = startDaemon(t, dataDir, "--mount-dir", g.e.mountDir, "--listen", addr)
	t.Cleanup(g.e.stopQuietly)
	g.aws = &awsEndpoint{daemon: g.e.d, url: "http://" + addr}
	g.e.ids = append(g.e.ids, slices.Collect(maps.Keys(g.vols))...)
	g.phase = "after the upgrade"
	return g
}

func (g *goldenEnv) d() *daemon { return g.e.d }

func (g *goldenEnv) readFixture(name string) []byte {
	b, err := os.ReadFile(filepath.Join(g.src, name))
	if err != nil {
		g.t.Fatal(err)
	}
	return b
}

// stop stops the daemon with SIGTERM and returns its log.
func (g *goldenEnv) stop() string {
	g.t.Helper()
	g.d().stop()
	return g.d().log.String()
}

func (g *goldenEnv) start(phase string) {
	g.t.Helper()
	g.phase = phase
	g.d().start()
}

func (g *goldenEnv) wantFormat(want string) {
	g.t.Helper()
	got, err := os.ReadFile(filepath.Join(g.e.dataDir, datadir.FileName))
	if err != nil || string(got) != want {
		g.t.Fatalf("%s: FORMAT = %q, %v; want %q", g.phase, got, err, want)
	}
}

// check reads everything back. all: restore every snapshot to a volume
// and read it whole; otherwise only the snapshots not read yet (the others
// are compared block by block through the EBS direct APIs).
func (g *goldenEnv) check(all bool) {
	g.t.Helper()
	g.checkKeys()
	g.checkCiphertexts()
	g.checkVolumes()
	g.checkSnapshots(all)
	g.checkAccessKeys()
	g.checkAuditTrail()
	d := g.d()
	if on, _ := field(g.t, d.ok("ec2", "get-ebs-encryption-by-default"), "EbsEncryptionByDefault").(bool); on != g.m.EbsEncryptionByDefault {
		g.t.Errorf("%s: EbsEncryptionByDefault %v, want %v", g.phase, on, g.m.EbsEncryptionByDefault)
	}
	if k := str(g.t, d.ok("ec2", "get-ebs-default-kms-key-id"), "KmsKeyId"); k != g.m.EbsDefaultKmsKeyID {
		g.t.Errorf("%s: default KMS key %q, want %q", g.phase, k, g.m.EbsDefaultKmsKeyID)
	}
}

func (g *goldenEnv) checkKeys() {
	t, d := g.t, g.d()
	t.Helper()
	for _, k := range g.m.Keys {
		md := field(t, d.ok("kms", "describe-key", "--key-id", k.KeyID), "KeyMetadata").(map[string]any)
		created, err1 := time.Parse(time.RFC3339, fmt.Sprint(md["CreationDate"]))
		want, err2 := time.Parse(time.RFC3339, k.CreationDate)
		if md["KeyId"] != k.KeyID || md["Arn"] != k.Arn || md["KeyState"] != k.State || md["Description"] != k.Description ||
			err1 != nil || err2 != nil || !created.Equal(want) {
			t.Errorf("%s: describe-key %s = %v; want %+v", g.phase, k.KeyID, md, k)
		}
		st := d.ok("kms", "get-key-rotation-status", "--key-id", k.KeyID)
		if on, _ := st["KeyRotationEnabled"].(bool); on != k.RotationEnabled ||
			(k.RotationPeriodInDays != nil && st["RotationPeriodInDays"] != float64(*k.RotationPeriodInDays)) {
			t.Errorf("%s: get-key-rotation-status %s = %v; want %+v", g.phase, k.KeyID, st, k)
		}
	}
	for id, n := range g.keys {
		rot, _ := field(t, d.ok("kms", "list-key-rotations", "--key-id", id), "Rotations").([]any)
		if len(rot) != n {
			t.Errorf("%s: key %s has %d rotations, want %d: %v", g.phase, id, len(rot), n, rot)
		}
	}
	got := map[string]string{}
	for _, a := range field(t, d.ok("kms", "list-aliases"), "Aliases").([]any) {
		a := a.(map[string]any)
		got[fmt.Sprint(a["AliasName"])] = fmt.Sprint(a["TargetKeyId"])
	}
	for name, key := range g.aliases {
		if got[name] != key {
			t.Errorf("%s: alias %s -> %q, want %s", g.phase, name, got[name], key)
		}
	}
	keyA, keyB := g.aliases["alias/golden-a"], g.aliases["alias/golden-b"]
	tags := d.ok("kms", "list-resource-tags", "--key-id", keyA)
	if !strings.Contains(fmt.Sprint(tags["Tags"]), "TagKey:project TagValue:golden") {
		t.Errorf("%s: tags of key A: %v", g.phase, tags)
	}
	grants, _ := field(t, d.ok("kms", "list-grants", "--key-id", keyB), "Grants").([]any)
	for _, want := range g.m.Grants {
		found := false
		for _, gr := range grants {
			gr := gr.(map[string]any)
			c, _ := json.Marshal(gr["Constraints"])
			w, _ := json.Marshal(map[string]any{"EncryptionContextSubset": want.Constraints.EncryptionContextSubset})
			found = found || (gr["GrantId"] == want.GrantID && gr["Name"] == want.Name && gr["GranteePrincipal"] == want.GranteePrincipal &&
				fmt.Sprint(gr["Operations"]) == fmt.Sprint(want.Operations) && bytes.Equal(c, w))
		}
		if !found {
			t.Errorf("%s: grant %+v not in list-grants: %v", g.phase, want, grants)
		}
	}
}

// checkCiphertexts decrypts every saved ciphertext (and checks that a
// context is still required, and the header's key and material version).
func (g *goldenEnv) checkCiphertexts() {
	t, d := g.t, g.d()
	t.Helper()
	for _, c := range g.ciphertexts {
		path := writeFile(t, c.name+".bin", c.blob)
		args := []string{"kms", "decrypt", "--ciphertext-blob", "fileb://" + path}
		if len(c.context) > 0 {
			ctx, _ := json.Marshal(c.context)
			d.fails("InvalidCiphertextException", args...)
			args = append(args, "--encryption-context", string(ctx))
		}
		if uuid, _ := hex.DecodeString(strings.ReplaceAll(c.keyID, "-", "")); len(c.blob) < 21 || c.blob[0] != 1 ||
			!bytes.Equal(c.blob[1:17], uuid) || binary.BigEndian.Uint32(c.blob[17:21]) != c.version {
			t.Errorf("ciphertext %s: header %x, want key %s, material version %d", c.name, c.blob[:min(21, len(c.blob))], c.keyID, c.version)
		}
		if c.wantCode != "" {
			d.fails(c.wantCode, args...)
			continue
		}
		out := d.ok(args...)
		plain, err := base64.StdEncoding.DecodeString(str(t, out, "Plaintext"))
		if err != nil || !bytes.Equal(plain, c.plain) || !strings.HasSuffix(str(t, out, "KeyId"), "key/"+c.keyID) {
			t.Errorf("%s: decrypt %s = %v; want %q under %s", g.phase, c.name, out, c.plain, c.keyID)
		}
	}
}

// checkVolumes reads every volume whole through the mount.
func (g *goldenEnv) checkVolumes() {
	t := g.t
	t.Helper()
	for _, v := range g.m.Volumes {
		got := snapVolume(t, g.d(), v.VolumeID)
		if got["Encrypted"] != v.Encrypted || asString(got["KmsKeyId"]) != v.KmsKeyID ||
			asString(got["SnapshotId"]) != v.SnapshotID || got["Size"] != float64(v.Size) || got["State"] != v.State {
			t.Errorf("%s: describe-volumes %s = %v; want %+v", g.phase, v.VolumeID, got, v)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(g.vols)) {
		state, _ := g.e.volumeState(id)
		if state != "in-use" {
			g.e.attach(id)
		} else {
			g.e.checkFile(id)
		}
		want := g.vols[id]
		if want == "" { // written by this test: what its model holds
			want = g.images[id].sum()
		}
		g.readWhole(id, id, want)
		if state != "in-use" {
			g.e.detach(id)
		}
	}
}

// asString is a JSON string field that may be absent ("" then).
func asString(v any) string {
	s, _ := v.(string)
	return s
}

// readWhole reads the attached volume vol whole and compares it with the
// content what (a volume or a snapshot) must have.
func (g *goldenEnv) readWhole(vol, what, want string) {
	g.t.Helper()
	img, sum := readGoldenImage(g.t, g.e.file(vol))
	if sum != want {
		g.t.Errorf("%s: %s read through %s: SHA-256 %s, want %s; read %s", g.phase, what, vol, sum, want, img.extents())
	}
	g.images[what] = img
}

// checkSnapshots compares each snapshot's record with the manifest, its
// content with a restored volume's (all, or those not read yet), and every
// block the EBS direct APIs list with that content.
func (g *goldenEnv) checkSnapshots(all bool) {
	t, d := g.t, g.d()
	t.Helper()
	for _, s := range g.m.Snapshots {
		got := snapDescribe(t, d, s.SnapshotID)
		if got["State"] != "completed" || got["Encrypted"] != s.Encrypted || asString(got["KmsKeyId"]) != s.KmsKeyID ||
			got["VolumeId"] != s.VolumeID || got["Description"] != s.Description || got["VolumeSize"] != float64(s.VolumeSize) {
			t.Errorf("%s: describe-snapshots %s = %v; want %+v", g.phase, s.SnapshotID, got, s)
		}
	}
	c := g.aws.ebsClient(g.activeKey())
	for _, id := range slices.Sorted(maps.Keys(g.snaps)) {
		if all || g.images[id] == nil {
			vol := g.e.createVolume("--snapshot-id", id)
			g.e.attach(vol)
			g.readWhole(vol, id, g.snaps[id])
			g.e.detach(vol)
			d.ok("ec2", "delete-volume", "--volume-id", vol)
		}
		img := g.images[id]
		listed := map[int64]bool{}
		for _, b := range listBlocks(t, c, id) {
			i := int64(*b.BlockIndex)
			listed[i] = true
			if !bytes.Equal(getBlock(t, c, id, b), img.at(i*ebsBlock, ebsBlock)) {
				t.Errorf("%s: GetSnapshotBlock %d of %s differs from the restored volume", g.phase, i, id)
			}
		}
		for i := range img.blocks {
			if !listed[i*goldenBlock/ebsBlock] {
				t.Errorf("%s: ListSnapshotBlocks of %s misses block %d, which holds data", g.phase, id, i*goldenBlock/ebsBlock)
			}
		}
	}
}

// activeKey is the first Active access key of the manifest.
func (g *goldenEnv) activeKey() accessKey {
	for _, k := range g.m.AccessKeys {
		if k.Status == "Active" {
			return accessKey{user: k.User, id: k.AccessKeyID, secret: k.SecretAccessKey}
		}
	}
	g.t.Fatal("the manifest has no Active access key")
	return accessKey{}
}

// checkAccessKeys signs KMS requests with every access key: the Active
// ones decrypt a saved ciphertext, the Inactive ones are refused.
func (g *goldenEnv) checkAccessKeys() {
	t := g.t
	t.Helper()
	c0 := g.ciphertexts[1] // a-v1-context: made before the rotations, with a context
	for _, k := range g.m.AccessKeys {
		c := g.aws.kms(accessKey{user: k.User, id: k.AccessKeyID, secret: k.SecretAccessKey})
		out, err := c.Decrypt(t.Context(), &kms.DecryptInput{CiphertextBlob: c0.blob, EncryptionContext: c0.context})
		if k.Status != "Active" {
			wantAPIError(t, err, "UnrecognizedClientException")
			continue
		}
		if err != nil || !bytes.Equal(out.Plaintext, c0.plain) {
			t.Errorf("%s: Decrypt of %s signed by %s's %s: %v", g.phase, c0.name, k.User, k.AccessKeyID, err)
		}
	}
}

// checkAuditTrail finds every event of the fixture's trail with
// LookupEvents, paging through the whole trail.
func (g *goldenEnv) checkAuditTrail() {
	t, d := g.t, g.d()
	t.Helper()
	f, err := os.Open(filepath.Join(g.src, "datadir", "cloudtrail", "events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r struct{ EventID, EventName string }
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil || r.EventID == "" {
			t.Fatalf("fixture trail: %v: %s", err, sc.Bytes())
		}
		want[r.EventID] = r.EventName
	}
	if len(want) != g.m.AuditEvents {
		t.Fatalf("the fixture's trail holds %d events, the manifest says %d", len(want), g.m.AuditEvents)
	}
	found, total := 0, 0
	for token := ""; ; {
		args := []string{"cloudtrail", "lookup-events", "--max-results", "50"}
		if token != "" {
			args = append(args, "--next-token", token)
		}
		out := d.ok(args...)
		for _, e := range field(t, out, "Events").([]any) {
			e := e.(map[string]any)
			total++
			if name, ok := want[fmt.Sprint(e["EventId"])]; ok && name == e["EventName"] {
				found++
			}
		}
		if token = str(t, out, "NextToken"); token == "" {
			break
		}
	}
	if found != len(want) || total <= len(want) {
		t.Errorf("%s: LookupEvents found %d of the fixture's %d events among %d", g.phase, found, len(want), total)
	}
}

// TestDataDirFormatRefused: a data dir of a newer format, or with a FORMAT
// that is not a version, is refused at once, with a message naming both
// versions, and left exactly as it was.
func TestDataDirFormatRefused(t *testing.T) {
	newer := datadir.Current + 1
	for content, want := range map[string][]string{
		fmt.Sprintf("%d\n", newer): {fmt.Sprintf("is format %d,", newer), fmt.Sprintf("reads format %d and older", datadir.Current)},
		fmt.Sprintf("%d upgrading from %d\n", newer, datadir.Current): {fmt.Sprintf("is format %d (an upgrade", newer),
			fmt.Sprintf("reads format %d and older", datadir.Current)},
		"garbage\n": {`FORMAT holds "garbage\n", which is not a format version`},
	} {
		dir := copyGoldenDir(t, filepath.Join(goldenV1, "datadir"))
		if err := os.WriteFile(filepath.Join(dir, datadir.FileName), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		before := goldenTree(t, dir)
		mnt := filepath.Join(t.TempDir(), "mnt")
		t.Cleanup(func() { unmountQuietly(mnt) })
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		out, err := exec.CommandContext(ctx, daemonBin(t), "serve", "--data-dir", dir, "--mount-dir", mnt).CombinedOutput()
		timedOut := ctx.Err() != nil
		cancel()
		ee, _ := err.(*exec.ExitError)
		if ee == nil || ee.ExitCode() != 255 || timedOut {
			t.Errorf("FORMAT %q: ebs serve: %v (want exit 255 at once)\n%s", content, err, out)
		}
		for _, w := range append(want, dir, "the data dir was not changed") {
			if !strings.Contains(string(out), w) {
				t.Errorf("FORMAT %q: the daemon's message does not say %q:\n%s", content, w, out)
			}
		}
		if changed := goldenChanged(before, goldenTree(t, dir)); len(changed) > 0 {
			t.Errorf("FORMAT %q: the daemon changed %v in the data dir", content, changed)
		}
		if _, err := os.Stat(mnt); !os.IsNotExist(err) {
			t.Errorf("FORMAT %q: the daemon made its mount dir: %v", content, err)
		}
	}
}

// TestDataDirFormatNew: a new data dir gets the current format.
func TestDataDirFormatNew(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	d := startDaemon(t, dir)
	d.ok("kms", "create-key")
	got, err := os.ReadFile(filepath.Join(dir, datadir.FileName))
	if want := fmt.Sprintf("%d\n", datadir.Current); err != nil || string(got) != want {
		t.Fatalf("FORMAT of a new data dir = %q, %v; want %q", got, err, want)
	}
	d.stop()
	if log := d.log.String(); strings.Contains(log, "upgrading") || !strings.Contains(log, "new data dir") {
		t.Fatalf("log of the first start on a new data dir:\n%s", log)
	}
}

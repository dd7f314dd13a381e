package e2e

import (
	"errors"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
)

// TestVolumeAPI goes through the EC2 volume operations and their errors,
// encryption by default, and the volume file's edges.
func TestVolumeAPI(t *testing.T) {
	needVolumes(t)
	e := startVolumeDaemon(t)
	cmkID := newKey(t, e.d, "alias/api")
	cmkArn := str(t, e.d.ok("kms", "describe-key", "--key-id", cmkID), "KeyMetadata", "Arn")

	// States and attachments.
	vol := e.createVolume("--size", "1")
	if st, att := e.volumeState(vol); st != "available" || len(att) != 0 {
		t.Fatalf("new volume: %s %v", st, att)
	}
	file := e.attach(vol)
	st, att := e.volumeState(vol)
	if st != "in-use" || len(att) != 1 {
		t.Fatalf("attached volume: %s %v", st, att)
	}
	a := att[0].(map[string]any)
	if a["VolumeId"] != vol || a["State"] != "attached" || a["Device"] != file || a["AttachTime"] == nil {
		t.Fatalf("attachment = %v", a)
	}
	e.d.fails("VolumeInUse", "ec2", "delete-volume", "--volume-id", vol)
	e.d.fails("VolumeInUse", "ec2", "attach-volume", "--volume-id", vol)

	// The file's edges: its size is the volume's, reads past the end are
	// short, writes past the end and truncation fail.
	f, err := os.OpenFile(file, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const size = 1 << 30
	if fi, err := f.Stat(); err != nil || fi.Size() != size {
		t.Fatalf("stat: size %v, err %v", fi.Size(), err)
	}
	if end, err := f.Seek(0, io.SeekEnd); err != nil || end != size {
		t.Fatalf("seek to end: %d %v", end, err)
	}
	tail := make([]byte, 8192)
	for i := range tail {
		tail[i] = byte(i)
	}
	if n, err := f.WriteAt(tail[:4096], size-4096); n != 4096 || err != nil {
		t.Fatalf("write of the last block: %d %v", n, err)
	}
	buf := make([]byte, 8192)
	if n, err := f.ReadAt(buf, size-4096); n != 4096 || err != io.EOF || string(buf[:4096]) != string(tail[:4096]) {
		t.Fatalf("read across the end: %d bytes, %v (want 4096 bytes of the last block and EOF)", n, err)
	}
	if n, err := f.ReadAt(buf, size); n != 0 || err != io.EOF {
		t.Fatalf("read at the end: %d %v", n, err)
	}
	if n, err := f.ReadAt(buf, size+(1<<20)); n != 0 || err != io.EOF {
		t.Fatalf("read past the end: %d %v", n, err)
	}
	if _, err := f.WriteAt(buf, size); err == nil {
		t.Fatal("a write at the end succeeded")
	}
	if _, err := f.WriteAt(buf, size+4096); err == nil {
		t.Fatal("a write past the end succeeded")
	}
	if n, err := f.WriteAt(tail, size-4096); err == nil || n > 4096 {
		t.Fatalf("a write across the end: %d bytes, %v; want at most 4096 and an error", n, err)
	}
	if err := f.Truncate(0); !errors.Is(err, syscall.EPERM) {
		t.Fatalf("ftruncate to 0: %v, want EPERM", err)
	}
	if err := os.Truncate(file, size*2); err == nil {
		t.Fatal("truncate to twice the size succeeded")
	}
	if _, err := os.OpenFile(file, os.O_RDWR|os.O_TRUNC, 0); err == nil {
		t.Fatal("open with O_TRUNC succeeded")
	}
	if fi, err := os.Stat(file); err != nil || fi.Size() != size {
		t.Fatalf("size after the truncations: %v %v", fi.Size(), err)
	}

	// Open, the file cannot be detached; closed, it can.
	e.d.fails("VolumeInUse", "ec2", "detach-volume", "--volume-id", vol)
	if st, _ := e.volumeState(vol); st != "in-use" {
		t.Fatalf("after a refused detach the volume is %s", st)
	}
	if _, err := f.ReadAt(buf[:4096], size-4096); err != nil || string(buf[:4096]) != string(tail[:4096]) {
		t.Fatalf("the file stopped working after a refused detach: %v", err)
	}
	f.Close()
	e.detach(vol)
	if st, att := e.volumeState(vol); st != "available" || len(att) != 0 {
		t.Fatalf("detached volume: %s %v", st, att)
	}
	e.d.fails("IncorrectState", "ec2", "detach-volume", "--volume-id", vol)

	// Unknown ids.
	const unknown = "vol-0123456789abcdef0"
	for _, op := range []string{"attach-volume", "detach-volume", "delete-volume"} {
		e.d.fails("InvalidVolume.NotFound", "ec2", op, "--volume-id", unknown)
	}
	e.d.fails("InvalidVolume.NotFound", "ec2", "describe-volumes", "--volume-ids", unknown)

	// Encryption needs asking for, and cannot be added in place.
	e.d.fails("InvalidParameterDependency", "ec2", "create-volume", "--size", "1", "--kms-key-id", cmkID)
	r := e.d.ebs("ec2", "modify-volume", "--volume-id", vol, "--encrypted")
	if r.code != 254 || !strings.Contains(r.stderr, "create-snapshot") || !strings.Contains(r.stderr, "copy-snapshot") {
		t.Fatalf("modify-volume --encrypted: exit %d %s", r.code, r.stderr)
	}
	if enc, _ := e.describe(vol)["Encrypted"].(bool); enc {
		t.Fatal("modify-volume --encrypted encrypted the volume")
	}

	// Encryption by default: new volumes only, under alias/aws/ebs, or
	// the default key set.
	if on := field(t, e.d.ok("ec2", "get-ebs-encryption-by-default"), "EbsEncryptionByDefault"); on != false {
		t.Fatalf("encryption by default is %v at start", on)
	}
	if on := field(t, e.d.ok("ec2", "enable-ebs-encryption-by-default"), "EbsEncryptionByDefault"); on != true {
		t.Fatalf("enable: %v", on)
	}
	if on := field(t, e.d.ok("ec2", "get-ebs-encryption-by-default"), "EbsEncryptionByDefault"); on != true {
		t.Fatalf("after enable: %v", on)
	}
	byDefault := e.createVolume("--size", "1")
	awsEbs := str(t, e.d.ok("kms", "describe-key", "--key-id", "alias/aws/ebs"), "KeyMetadata", "Arn")
	if v := e.describe(byDefault); v["Encrypted"] != true || v["KmsKeyId"] != awsEbs {
		t.Fatalf("volume made with encryption by default: Encrypted %v, KmsKeyId %v; want true, %s", v["Encrypted"], v["KmsKeyId"], awsEbs)
	}
	if v := e.describe(vol); v["Encrypted"] != false || v["KmsKeyId"] != nil {
		t.Fatalf("volume made before: Encrypted %v, KmsKeyId %v", v["Encrypted"], v["KmsKeyId"])
	}
	roundTrip(t, e.attach(byDefault), 5<<20)
	e.detach(byDefault)
	if got := str(t, e.d.ok("ec2", "get-ebs-default-kms-key-id"), "KmsKeyId"); got != "arn:aws:kms:local:000000000000:alias/aws/ebs" {
		t.Fatalf("default key id at start: %q", got)
	}
	if got := str(t, e.d.ok("ec2", "modify-ebs-default-kms-key-id", "--kms-key-id", "alias/api"), "KmsKeyId"); got != cmkArn {
		t.Fatalf("modify-ebs-default-kms-key-id: %q, want %s", got, cmkArn)
	}
	if got := str(t, e.d.ok("ec2", "get-ebs-default-kms-key-id"), "KmsKeyId"); got != cmkArn {
		t.Fatalf("default key id: %q, want %s", got, cmkArn)
	}
	underCMK := e.createVolume("--size", "1")
	if v := e.describe(underCMK); v["Encrypted"] != true || v["KmsKeyId"] != cmkArn {
		t.Fatalf("volume under the default CMK: %v %v", v["Encrypted"], v["KmsKeyId"])
	}
	// Naming a key still wins over the default one.
	if v := e.describe(e.createVolume("--size", "1", "--kms-key-id", "alias/aws/ebs")); v["KmsKeyId"] != awsEbs {
		t.Fatalf("--kms-key-id alias/aws/ebs with a default CMK: %v", v["KmsKeyId"])
	}
	e.d.fails("NotFoundException", "ec2", "modify-ebs-default-kms-key-id", "--kms-key-id", "alias/no-such-key")
	if got := str(t, e.d.ok("ec2", "reset-ebs-default-kms-key-id"), "KmsKeyId"); got != "arn:aws:kms:local:000000000000:alias/aws/ebs" {
		t.Fatalf("reset-ebs-default-kms-key-id: %q", got)
	}
	if v := e.describe(e.createVolume("--size", "1")); v["KmsKeyId"] != awsEbs {
		t.Fatalf("after reset: KmsKeyId %v, want %s", v["KmsKeyId"], awsEbs)
	}
	if on := field(t, e.d.ok("ec2", "disable-ebs-encryption-by-default"), "EbsEncryptionByDefault"); on != false {
		t.Fatalf("disable: %v", on)
	}
	if v := e.describe(e.createVolume("--size", "1")); v["Encrypted"] != false {
		t.Fatalf("after disable a new volume is encrypted: %v", v)
	}
	if v := e.describe(underCMK); v["Encrypted"] != true || v["KmsKeyId"] != cmkArn {
		t.Fatalf("turning the default off changed an existing volume: %v", v)
	}

	// Deleted volumes are gone.
	e.d.ok("ec2", "delete-volume", "--volume-id", vol)
	e.d.fails("InvalidVolume.NotFound", "ec2", "describe-volumes", "--volume-ids", vol)
	e.d.fails("InvalidVolume.NotFound", "ec2", "attach-volume", "--volume-id", vol)
}

// describe returns one volume as describe-volumes shows it.
func (e *volEnv) describe(id string) map[string]any {
	e.t.Helper()
	vols := field(e.t, e.d.ok("ec2", "describe-volumes", "--volume-ids", id), "Volumes").([]any)
	return vols[0].(map[string]any)
}

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSeedWorkflow is the way to encrypt an unencrypted volume:
// create-snapshot -> copy-snapshot --encrypted --kms-key-id ->
// create-volume --snapshot-id. The restored, encrypted volume holds every
// file and the SQLite database unchanged, with a clean file system; what is
// written to it never reaches the data dir in plaintext (while a canary of
// the unencrypted original does); and the audit trail holds the KMS calls
// EC2 made for the copy and for the attach.
func TestSeedWorkflow(t *testing.T) {
	needVolumes(t, "losetup", "mkfs.ext4", "e2fsck")
	snapNeedSQLite(t)
	e := startVolumeDaemon(t)
	d := e.d
	newKey(t, d, "alias/app")
	appArn := snapKeyArn(t, d, "alias/app")

	plainCanary := "EBS-E2E-SEED-PLAIN-CANARY-" + randHex(8) + "-is-visible-on-disk|"
	encCanary := "EBS-E2E-SEED-ENCRYPTED-CANARY-" + randHex(8) + "-must-never-reach-the-disk|"

	vol := e.createVolume("--size", "1")
	if v := snapVolume(t, d, vol); v["Encrypted"] != false {
		t.Fatalf("new volume without --encrypted: %v", v)
	}
	seed := snapSeedFS(t, e.attach(vol), plainCanary)

	// No encryption in place; the error shows the way.
	r := d.fails("UnsupportedOperation", "ec2", "modify-volume", "--volume-id", vol, "--encrypted")
	for _, want := range []string{"create-snapshot", "copy-snapshot", "--encrypted", "create-volume --snapshot-id"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("modify-volume --encrypted: the message does not mention %q: %s", want, r.stderr)
		}
	}
	if v := snapVolume(t, d, vol); v["Encrypted"] != false {
		t.Fatalf("after the refused modify-volume: %v", v)
	}

	// The snapshot is taken while the volume is attached (unmounted, synced).
	snap := snapCreate(t, d, vol)
	s := snapDescribe(t, d, snap)
	if s["State"] != "completed" || s["Encrypted"] != false || s["VolumeId"] != vol || snapNum(t, s, "VolumeSize") != 1 {
		t.Fatalf("snapshot of the unencrypted volume: %v", s)
	}
	full := snapNum(t, s, "FullSnapshotSizeInBytes")
	if full < 6<<20 || full > 64<<20 {
		t.Errorf("FullSnapshotSizeInBytes %d of a fresh ext4 holding 6.4 MiB of files", full)
	}

	cp := snapCopy(t, d, "--source-snapshot-id", snap, "--encrypted", "--kms-key-id", "alias/app")
	snapWait(t, d, cp)
	c := snapDescribe(t, d, cp)
	if c["State"] != "completed" || c["Encrypted"] != true || c["KmsKeyId"] != appArn || c["Progress"] != "100%" {
		t.Fatalf("encrypted copy: %v, want completed, encrypted under %s", c, appArn)
	}
	dek := str(t, c, "DataEncryptionKeyId")
	if dek == "" {
		t.Fatalf("encrypted copy without DataEncryptionKeyId: %v", c)
	}
	if got := snapNum(t, c, "FullSnapshotSizeInBytes"); got != full {
		t.Errorf("the copy's FullSnapshotSizeInBytes %d, the source's %d", got, full)
	}

	nv := e.createVolume("--snapshot-id", cp)
	v := snapVolume(t, d, nv)
	if v["Encrypted"] != true || v["KmsKeyId"] != appArn || v["SnapshotId"] != cp || snapNum(t, v, "Size") != 1 {
		t.Fatalf("volume from the encrypted copy: %v", v)
	}
	if v["DataEncryptionKeyId"] != dek {
		t.Errorf("volume from the copy under the same CMK: DataEncryptionKeyId %v, the copy's %s (the lineage shares its data key)", v["DataEncryptionKeyId"], dek)
	}

	// Everything is there, and what is written now is encrypted.
	snapVerifyFS(t, e.attach(nv), seed, func(dir string) {
		data := []byte(strings.Repeat(encCanary, (1<<20)/len(encCanary)))
		if err := os.WriteFile(filepath.Join(dir, "encrypted-canary.txt"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		sh(t, "sync", "-f", dir)
	})

	// The direct way: create-volume --snapshot-id <unencrypted> --encrypted
	// re-encrypts every block under a new data key.
	direct := e.createVolume("--snapshot-id", snap, "--encrypted", "--kms-key-id", "alias/app")
	v = snapVolume(t, d, direct)
	if v["Encrypted"] != true || v["KmsKeyId"] != appArn || v["DataEncryptionKeyId"] == dek || v["DataEncryptionKeyId"] == "" {
		t.Fatalf("create-volume --encrypted from the unencrypted snapshot: %v, want encrypted under %s with its own data key", v, appArn)
	}
	snapVerifyFS(t, e.attach(direct), seed, nil)
	e.detach(direct)

	// The audit trail, while the daemon runs: the copy's data key ...
	gen := auditEvents(t, e, "GenerateDataKeyWithoutPlaintext", cp)
	if len(gen) != 1 {
		t.Fatalf("%d GenerateDataKeyWithoutPlaintext events with the copy's context, want 1", len(gen))
	}
	if n, _ := field(t, gen[0], "requestParameters", "numberOfBytes").(float64); n != 64 {
		t.Errorf("the copy's GenerateDataKeyWithoutPlaintext: requestParameters %v, want numberOfBytes 64", gen[0]["requestParameters"])
	}
	if ec, _ := field(t, gen[0], "requestParameters", "encryptionContext").(map[string]any); len(ec) != 1 || ec["aws:ebs:id"] != cp {
		t.Errorf("the copy's GenerateDataKeyWithoutPlaintext: encryptionContext %v, want {aws:ebs:id: %s}", ec, cp)
	}
	checkEC2Event(t, gen[0], appArn, "")
	// ... and the attach of the new volume: a grant, then a Decrypt.
	grants := auditEvents(t, e, "CreateGrant", nv)
	decrypts := auditEvents(t, e, "Decrypt", nv)
	if len(grants) != 1 || len(decrypts) != 1 {
		t.Fatalf("attach of %s: %d CreateGrant and %d Decrypt events, want 1 and 1", nv, len(grants), len(decrypts))
	}
	checkEC2Event(t, grants[0], appArn, "")
	checkEC2Event(t, decrypts[0], appArn, "")
	if str(t, grants[0], "eventTime") > str(t, decrypts[0], "eventTime") {
		t.Errorf("the attach's Decrypt (%s) came before its CreateGrant (%s)", str(t, decrypts[0], "eventTime"), str(t, grants[0], "eventTime"))
	}

	// Detached and stopped, the data dir is searched.
	e.detach(nv)
	e.detach(vol)
	d.stop()
	if n := countInDir(t, e.dataDir, []byte(encCanary)); n != 0 {
		t.Fatalf("the canary written to the encrypted volume is in the data dir %d times", n)
	}
	if n := countInDir(t, e.dataDir, []byte(plainCanary)); n == 0 {
		t.Fatal("control failed: the canary of the unencrypted original is not found in the data dir")
	}
}

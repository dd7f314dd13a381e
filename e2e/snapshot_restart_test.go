package e2e

import (
	"os"
	"testing"
)

// TestSnapshotsSurviveRestart: snapshots, their copies (sharing the data
// key or re-encrypted) and the volumes made from them keep working across
// a restart of the daemon; a copy that was pending when the daemon stopped
// (SIGTERM) or died (SIGKILL) is resumed and completes with the right
// contents, without leaking the space of the interrupted attempt.
func TestSnapshotsSurviveRestart(t *testing.T) {
	needVolumes(t)
	e := startVolumeDaemon(t)
	d := e.d
	newKey(t, d, "alias/restart-a")
	newKey(t, d, "alias/restart-b")
	arnA, arnB := snapKeyArn(t, d, "alias/restart-a"), snapKeyArn(t, d, "alias/restart-b")

	const n = 64 << 20
	vol := e.createVolume("--size", "1", "--encrypted", "--kms-key-id", "alias/restart-a")
	file := e.attach(vol)
	sum := snapFill(t, file, 0, n, 11)
	snap := snapCreate(t, d, vol)
	snapFill(t, file, 0, 1<<20, 12) // the volume moves on after the snapshot
	volSum := snapSum(t, file, 0, n)
	dek := str(t, snapDescribe(t, d, snap), "DataEncryptionKeyId")

	shared := snapCopy(t, d, "--source-snapshot-id", snap)
	reenc := snapCopy(t, d, "--source-snapshot-id", snap, "--encrypted", "--kms-key-id", "alias/restart-b")
	snapWait(t, d, shared, reenc)
	fromSnap := e.createVolume("--snapshot-id", snap)
	fromReenc := e.createVolume("--snapshot-id", reenc)
	e.attach(fromSnap) // attached across the restart, as vol is
	blocksBefore := snapBlockIndexes(t, d.ok("ebs", "list-snapshot-blocks", "--snapshot-id", snap), "Blocks")

	type want struct{ key, dek string }
	wants := map[string]want{snap: {arnA, dek}, shared: {arnA, dek}, reenc: {arnB, ""}}
	checkSnaps := func(when string) {
		t.Helper()
		for id, w := range wants {
			s := snapDescribe(t, d, id)
			if s["State"] != "completed" || s["Encrypted"] != true || s["KmsKeyId"] != w.key || snapNum(t, s, "FullSnapshotSizeInBytes") != n {
				t.Errorf("%s: snapshot %s is %v, want completed under %s holding 64 MiB", when, id, s, w.key)
			}
			if got := str(t, s, "DataEncryptionKeyId"); w.dek != "" && got != w.dek || w.dek == "" && (got == dek || got == "") {
				t.Errorf("%s: snapshot %s DataEncryptionKeyId %q (the source's is %s)", when, id, got, dek)
			}
		}
	}
	// readBack checks that a volume holds want in its first n bytes,
	// attaching it (and detaching it again) unless it is attached.
	readBack := func(when, v, want string) {
		t.Helper()
		attached := false
		if st, _ := e.volumeState(v); st == "in-use" {
			attached = true
			e.checkFile(v)
		} else {
			e.attach(v)
		}
		if got := snapSum(t, e.file(v), 0, n); got != want {
			t.Errorf("%s: volume %s (from %v) does not hold its data", when, v, snapVolume(t, d, v)["SnapshotId"])
		}
		if !attached {
			e.detach(v)
		}
	}
	checkAll := func(when string) {
		t.Helper()
		checkSnaps(when)
		readBack(when, vol, volSum)
		readBack(when, fromSnap, sum)
		readBack(when, fromReenc, sum)
	}
	checkAll("before the restart")
	wants[reenc] = want{arnB, str(t, snapDescribe(t, d, reenc), "DataEncryptionKeyId")}

	d.restart()
	for _, v := range []string{vol, fromSnap} {
		if st, att := e.volumeState(v); st != "in-use" || len(att) != 1 {
			t.Fatalf("after the restart %s is %s %v, want attached again", v, st, att)
		}
	}
	checkAll("after a restart")
	if got := snapBlockIndexes(t, d.ok("ebs", "list-snapshot-blocks", "--snapshot-id", snap), "Blocks"); !snapSameInts(got, blocksBefore) {
		t.Errorf("list-snapshot-blocks after the restart: %v, before %v", got, blocksBefore)
	}

	// A copy pending at SIGTERM is resumed by the next daemon.
	meter := snapNewMeter(t, e.dataDir)
	p1 := snapCopy(t, d, "--source-snapshot-id", snap, "--encrypted", "--kms-key-id", "alias/restart-b")
	state1 := snapDescribe(t, d, p1)["State"]
	d.restart()
	checkResumed := func(how string, id string, state any) {
		t.Helper()
		if state != "pending" {
			t.Logf("SKIP of the %s resume: the copy %s was already %v when the daemon stopped", how, id, state)
		}
		w := d.ebs("ec2", "wait", "snapshot-completed", "--timeout", "1m", "--snapshot-ids", id)
		if w.code != 0 {
			t.Errorf("copy %s, pending at the %s: wait snapshot-completed exit %d %s; now %v", id, how, w.code, w.stderr, snapDescribe(t, d, id))
			return
		}
		c := snapDescribe(t, d, id)
		if c["KmsKeyId"] != arnB || c["DataEncryptionKeyId"] == dek || snapNum(t, c, "FullSnapshotSizeInBytes") != n {
			t.Errorf("copy %s, pending at the %s, completed as %v", id, how, c)
		}
		v := e.createVolume("--snapshot-id", id)
		readBack("copy resumed after the "+how, v, sum)
		d.ok("ec2", "delete-volume", "--volume-id", v)
		grew := meter.around(func() { snapFsync(t, e.file(vol)) })
		t.Logf("copy resumed after the %s: block storage grew by %s", how, snapMiB(grew))
		if !snapWithin(grew, n, 0.1) {
			t.Errorf("a re-encrypted copy of 64 MiB resumed after the %s grew the block storage by %s, want 64 MiB (the interrupted attempt's blocks must be freed)", how, snapMiB(grew))
		}
	}
	checkResumed("SIGTERM", p1, state1)

	// A copy pending at SIGKILL is resumed too. And a snapshot taken just
	// before the crash holds what the volume held then, although the
	// volume was overwritten (without fsync) after it.
	const at, size = 512 << 20, 1 << 20
	before := snapFill(t, file, at, size, 21)
	crashSnap := snapCreate(t, d, vol)
	meter.around(func() {}) // from here on, only the copy (and at most 1 MiB of the overwrite) grows it
	f := openVolume(t, file, os.O_RDWR)
	junk := make([]byte, size)
	snapPattern(junk, 22)
	if _, err := f.WriteAt(junk, at); err != nil {
		t.Fatal(err)
	}
	p2 := snapCopy(t, d, "--source-snapshot-id", snap, "--encrypted", "--kms-key-id", "alias/restart-b")
	state2 := snapDescribe(t, d, p2)["State"]
	d.kill()
	f.Close()
	d.start()
	for _, v := range []string{vol, fromSnap} {
		e.checkFile(v)
	}
	checkResumed("SIGKILL", p2, state2)
	crashVol := e.createVolume("--snapshot-id", crashSnap)
	if got := snapSum(t, e.attach(crashVol), at, size); got != before {
		t.Errorf("the snapshot taken before the crash does not hold what the volume held then")
	}
	e.detach(crashVol)
	d.ok("ec2", "delete-volume", "--volume-id", crashVol)
	wants[p1], wants[p2] = want{arnB, str(t, snapDescribe(t, d, p1), "DataEncryptionKeyId")}, want{arnB, str(t, snapDescribe(t, d, p2), "DataEncryptionKeyId")}

	// And everything once more after a clean restart.
	d.restart()
	checkAll("after the last restart")
	e.detach(fromSnap)
	e.detach(vol)
}

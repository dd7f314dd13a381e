package main

import (
	"fmt"
	"log/slog"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// snapshotResult is the snapshot benchmark: create-snapshot latency on a
// 1 GiB and a 100 GiB volume holding the same data, reading a restored
// volume through to its snapshot, and re-encrypting copy throughput.
type snapshotResult struct {
	CreateMs1GiB      float64 `json:"create_snapshot_ms_1gib"`
	CreateMs100GiB    float64 `json:"create_snapshot_ms_100gib"`
	Ratio             float64 `json:"ratio_100gib_to_1gib"`
	RestoreReadMiBps  float64 `json:"restored_volume_read_mib_per_s"`
	CopyMiB           int     `json:"copy_mib"`
	CopyReencryptMiBs float64 `json:"copy_reencrypt_mib_per_s"`
}

type daemonCLI struct {
	bin, sock, mnt string
}

func (d daemonCLI) run(args ...string) (string, error) {
	out, err := exec.Command(d.bin, append([]string{"--socket", d.sock}, args...)...).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return "", fmt.Errorf("ebs %s: %w: %s", strings.Join(args, " "), err, ee.Stderr)
		}
		return "", fmt.Errorf("ebs %s: %w", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out)), nil
}

func (d daemonCLI) text(args ...string) (string, error) {
	return d.run(append(args, "--output", "text")...)
}

func measureSnapshots(o options, work string, log *slog.Logger) (*snapshotResult, error) {
	data, mnt := filepath.Join(work, "snap", "data"), filepath.Join(work, "snap", "mnt")
	stop, err := background(o.ebsBin, "serve", "--data-dir", data, "--mount-dir", mnt, "--log-level", "warn")
	if err != nil {
		return nil, err
	}
	defer stop()
	d := daemonCLI{bin: o.ebsBin, sock: filepath.Join(data, "ebs.sock"), mnt: mnt}
	if _, err := d.run("wait-ready"); err != nil {
		return nil, err
	}
	res := &snapshotResult{CopyMiB: 256}
	small, smallSnap, err := d.createSnapshotMs(1)
	if err != nil {
		return nil, err
	}
	big, _, err := d.createSnapshotMs(100)
	if err != nil {
		return nil, err
	}
	res.CreateMs1GiB, res.CreateMs100GiB, res.Ratio = small, big, big/small
	log.Info("create-snapshot", "1GiB_ms", small, "100GiB_ms", big)
	if res.RestoreReadMiBps, err = d.restoreRead(smallSnap); err != nil {
		return nil, err
	}
	if res.CopyReencryptMiBs, err = d.copyThroughput(res.CopyMiB); err != nil {
		return nil, err
	}
	return res, nil
}

// createSnapshotMs writes 64 MiB to a new volume of sizeGiB, then takes
// snapshots with 4 MiB written between them, and returns the median time
// of create-snapshot (the whole CLI round trip) and the last snapshot.
func (d daemonCLI) createSnapshotMs(sizeGiB int) (float64, string, error) {
	vol, err := d.text("ec2", "create-volume", "--size", fmt.Sprint(sizeGiB), "--encrypted", "--query", "VolumeId")
	if err != nil {
		return 0, "", err
	}
	if _, err := d.run("ec2", "attach-volume", "--volume-id", vol); err != nil {
		return 0, "", err
	}
	file := filepath.Join(d.mnt, vol)
	if err := fioWrite(file, "64M", 0); err != nil {
		return 0, "", err
	}
	var times []float64
	snap := ""
	for i := 0; i < 7; i++ {
		if err := fioWrite(file, "4M", int64(i)*4<<20); err != nil {
			return 0, "", err
		}
		start := time.Now()
		if snap, err = d.text("ec2", "create-snapshot", "--volume-id", vol, "--query", "SnapshotId"); err != nil {
			return 0, "", err
		}
		times = append(times, float64(time.Since(start).Microseconds())/1000)
	}
	sort.Float64s(times)
	return times[len(times)/2], snap, nil
}

func fioWrite(file, size string, offset int64) error {
	out, err := exec.Command("fio", "--name=w", "--filename="+file, "--size="+size, fmt.Sprintf("--offset=%d", offset),
		"--rw=write", "--bs=1M", "--direct=1", "--end_fsync=1", "--output-format=terse").CombinedOutput()
	if err != nil {
		return fmt.Errorf("fio write: %w: %s", err, out)
	}
	return nil
}

// restoreRead restores a snapshot of the 1 GiB volume (same key: a lazy
// clone) and reads its 64 MiB sequentially, through to the snapshot.
func (d daemonCLI) restoreRead(snap string) (float64, error) {
	vol, err := d.text("ec2", "create-volume", "--snapshot-id", snap, "--query", "VolumeId")
	if err != nil {
		return 0, err
	}
	if _, err := d.run("ec2", "attach-volume", "--volume-id", vol); err != nil {
		return 0, err
	}
	r, err := runFio(filepath.Join("bench", "jobs", "seqread-1m.fio"), filepath.Join(d.mnt, vol), options{size: "64M", runtime: 3 * time.Second})
	return r.MiBps, err
}

// copyThroughput writes mib MiB, snapshots it, copies the snapshot to
// another CMK (every block decrypted and re-encrypted under a new data key)
// and returns MiB of data per second of copy.
func (d daemonCLI) copyThroughput(mib int) (float64, error) {
	key, err := d.text("kms", "create-key", "--description", "bench copy target", "--query", "KeyMetadata.KeyId")
	if err != nil {
		return 0, err
	}
	vol, err := d.text("ec2", "create-volume", "--size", "1", "--encrypted", "--query", "VolumeId")
	if err != nil {
		return 0, err
	}
	if _, err := d.run("ec2", "attach-volume", "--volume-id", vol); err != nil {
		return 0, err
	}
	if err := fioWrite(filepath.Join(d.mnt, vol), fmt.Sprintf("%dM", mib), 0); err != nil {
		return 0, err
	}
	snap, err := d.text("ec2", "create-snapshot", "--volume-id", vol, "--query", "SnapshotId")
	if err != nil {
		return 0, err
	}
	start := time.Now()
	cp, err := d.text("ec2", "copy-snapshot", "--source-snapshot-id", snap, "--encrypted", "--kms-key-id", key, "--query", "SnapshotId")
	if err != nil {
		return 0, err
	}
	if _, err := d.run("ec2", "wait", "snapshot-completed", "--snapshot-ids", cp); err != nil {
		return 0, err
	}
	return float64(mib) / time.Since(start).Seconds(), nil
}

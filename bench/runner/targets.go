package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// target is something fio runs against: a file, and how to tear it down.
type target struct {
	name, description, path string
	teardown                func()
	noPrefill               bool // the runner must not pre-fill it (ebs-restored)
	daemonPID               int  // the ebs daemon serving it, if any: its peak RSS is reported
}

func newTarget(name string, o options, work string, log *slog.Logger) (*target, error) {
	if _, err := exec.LookPath("fio"); err != nil {
		return nil, fmt.Errorf("fio is not installed")
	}
	switch name {
	case "memfuse":
		return memfuseTarget(o, work)
	case "filefuse":
		return filefuseTarget(o, work)
	case "ebs-encrypted":
		return ebsTarget(o, work, name, true)
	case "ebs-unencrypted":
		return ebsTarget(o, work, name, false)
	case "ebs-restored":
		return ebsRestoredTarget(o, work)
	case "ext4-ebs":
		return ext4OnEBSTarget(o, work)
	case "ext4-file":
		return ext4OnFileTarget(work)
	case "gocryptfs":
		return gocryptfsTarget(work)
	case "qcow2-luks":
		return qcowLUKSTarget(work)
	case "local-file":
		return localFileTarget(work)
	}
	return nil, fmt.Errorf("unknown target %q", name)
}

// background starts a server and returns a stop function that sends
// SIGTERM and waits.
func background(bin string, args ...string) (func(), error) {
	stop, _, err := backgroundPID(bin, args...)
	return stop, err
}

func waitFile(path string) error {
	for i := 0; i < 200; i++ {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s did not appear", path)
}

func memfuseTarget(o options, work string) (*target, error) {
	dir := filepath.Join(work, "memfuse")
	stop, err := background(o.memfuseBin, "--mount-dir", dir, "--size-mib", "2048")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "mem")
	if err := waitFile(path); err != nil {
		stop()
		return nil, err
	}
	return &target{name: "memfuse", description: "bare in-memory file on go-fuse, same mount settings (the ceiling)", path: path, teardown: stop}, nil
}

// filefuseTarget serves a local file over go-fuse, one pwrite or pread per
// request: the ceiling of a Go FUSE volume whose blocks live in a local file.
func filefuseTarget(o options, work string) (*target, error) {
	dir, remove, err := diskDir(work, "filefuse")
	if err != nil {
		return nil, err
	}
	mnt := filepath.Join(work, "filefuse")
	stop, err := background(o.filefuseBin, "--mount-dir", mnt, "--backing", filepath.Join(dir, "backing"), "--size-mib", "2048")
	if err != nil {
		remove()
		return nil, err
	}
	path := filepath.Join(mnt, "file")
	if err := waitFile(path); err != nil {
		stop()
		remove()
		return nil, err
	}
	return &target{name: "filefuse", path: path, teardown: func() { stop(); remove() },
		description: "local file behind go-fuse, one pwrite/pread per request, same mount settings (" + fsType(dir) + ")"}, nil
}

// ebsTarget starts a daemon of its own and attaches one 2 GiB volume.
func ebsTarget(o options, work, name string, encrypted bool) (*target, error) {
	data, mnt := filepath.Join(work, name, "data"), filepath.Join(work, name, "mnt")
	stop, pid, err := backgroundPID(o.ebsBin, "serve", "--data-dir", data, "--mount-dir", mnt, "--log-level", "warn")
	if err != nil {
		return nil, err
	}
	sock := filepath.Join(data, "ebs.sock")
	cli := func(args ...string) ([]byte, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, o.ebsBin, append([]string{"--socket", sock}, args...)...).Output()
		if err != nil {
			return nil, fmt.Errorf("ebs %s: %w", strings.Join(args, " "), err)
		}
		return out, nil
	}
	fail := func(err error) (*target, error) { stop(); return nil, err }
	if _, err := cli("wait-ready"); err != nil {
		return fail(err)
	}
	args := []string{"ec2", "create-volume", "--size", "2"}
	desc := "ebs volume, unencrypted"
	if encrypted {
		args = append(args, "--encrypted")
		desc = "ebs volume, AES-256-XTS encrypted"
	}
	out, err := cli(args...)
	if err != nil {
		return fail(err)
	}
	var v struct{ VolumeId string }
	if err := json.Unmarshal(out, &v); err != nil {
		return fail(err)
	}
	if _, err := cli("ec2", "attach-volume", "--volume-id", v.VolumeId); err != nil {
		return fail(err)
	}
	return &target{name: name, description: desc, path: filepath.Join(mnt, v.VolumeId), daemonPID: pid, teardown: func() {
		cli("ec2", "detach-volume", "--volume-id", v.VolumeId)
		stop()
	}}, nil
}

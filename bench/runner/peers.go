package main

// Peer targets (issue 5): other ways of getting an encrypted (or plain)
// file, measured with the same fio jobs beside ours. Each setup undoes
// whatever it did when a later step fails, so a skipped target leaves
// nothing mounted.

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// peerPassword is the password of the peers' encrypted containers: a
// benchmark, not a secret.
const peerPassword = "ebs-bench-password"

// ensureTool makes sure bin is on PATH, installing the Debian package pkg
// with apt-get when it is missing and we are root.
func ensureTool(bin, pkg string) error {
	if _, err := exec.LookPath(bin); err == nil {
		return nil
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("%s is not installed (Debian package %s; not root, so not installing it)", bin, pkg)
	}
	cmd := exec.Command("apt-get", "install", "-y", "-qq", pkg)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("apt-get install %s: %w: %s", pkg, err, lastLines(out, 3))
	}
	if _, err := exec.LookPath(bin); err != nil {
		return fmt.Errorf("%s is still missing after apt-get install %s", bin, pkg)
	}
	return nil
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "; ")
}

// sh runs a command and returns its trimmed output, or an error with it.
func sh(bin string, args ...string) (string, error) {
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", bin, strings.Join(args, " "), err, lastLines(out, 3))
	}
	return strings.TrimSpace(string(out)), nil
}

// undoStack collects teardown steps; run undoes them last first.
type undoStack []func()

func (u *undoStack) push(f func()) { *u = append(*u, f) }

func (u *undoStack) run() {
	for i := len(*u) - 1; i >= 0; i-- {
		(*u)[i]()
	}
	*u = nil
}

// mounted reports whether path is a mount point in /proc/mounts.
func mounted(path string) bool {
	f, err := os.Open("/proc/mounts")
	if err != nil {
		return false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if fields := strings.Fields(s.Text()); len(fields) > 1 && fields[1] == path {
			return true
		}
	}
	return false
}

func waitMounted(path string, timeout time.Duration) error {
	for end := time.Now().Add(timeout); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if mounted(path) {
			return nil
		}
	}
	return fmt.Errorf("%s was not mounted within %s", path, timeout)
}

// unmount unmounts path, waiting a little for a busy mount, and lazily
// as a last resort.
func unmount(path string) {
	for i := 0; i < 20 && mounted(path); i++ {
		if exec.Command("umount", path).Run() != nil {
			exec.Command("fusermount", "-u", path).Run()
		}
		if mounted(path) {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if mounted(path) {
		fmt.Fprintf(os.Stderr, "bench: %s is busy, unmounting it lazily\n", path)
		exec.Command("umount", "-l", path).Run()
	}
}

// diskDir returns a new directory on a real disk: under work unless work
// is on tmpfs, else under /var/tmp.
func diskDir(work, name string) (string, func(), error) {
	const tmpfsMagic = 0x01021994
	parent := work
	var st syscall.Statfs_t
	if err := syscall.Statfs(parent, &st); err != nil || st.Type == tmpfsMagic {
		parent = "/var/tmp"
	}
	if err := syscall.Statfs(parent, &st); err != nil || st.Type == tmpfsMagic {
		return "", nil, fmt.Errorf("no disk-backed directory (%s is tmpfs)", parent)
	}
	dir, err := os.MkdirTemp(parent, "ebs-bench-"+name+"-")
	if err != nil {
		return "", nil, err
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}

// gocryptfsTarget: a gocryptfs (AES-256-GCM, per-file) mount; fio
// creates its file in it.
func gocryptfsTarget(work string) (*target, error) {
	if err := ensureTool("gocryptfs", "gocryptfs"); err != nil {
		return nil, err
	}
	var undo undoStack
	fail := func(err error) (*target, error) { undo.run(); return nil, err }
	dir := filepath.Join(work, "gocryptfs")
	cipher, plain, pass := filepath.Join(dir, "cipher"), filepath.Join(dir, "plain"), filepath.Join(dir, "passfile")
	for _, d := range []string{cipher, plain} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(pass, []byte(peerPassword+"\n"), 0o600); err != nil {
		return nil, err
	}
	if _, err := sh("gocryptfs", "-q", "-init", "-passfile", pass, "-scryptn", "10", cipher); err != nil {
		return nil, err
	}
	// Without -fg gocryptfs forks and returns once the mount is up.
	undo.push(func() { unmount(plain) })
	// Its daemon inherits stdout and stderr: no pipes, or Run would wait for it.
	mount := exec.Command("gocryptfs", "-q", "-nosyslog", "-passfile", pass, cipher, plain)
	mount.Stdout, mount.Stderr = os.Stderr, os.Stderr
	if err := mount.Run(); err != nil {
		return fail(fmt.Errorf("gocryptfs mount: %w", err))
	}
	if err := waitMounted(plain, 10*time.Second); err != nil {
		return fail(err)
	}
	return &target{name: "gocryptfs", path: filepath.Join(plain, "file"), teardown: undo.run,
		description: "gocryptfs 2 mount (FUSE, AES-256-GCM per 4 KiB block), fio file inside"}, nil
}

// qcowLUKSTarget: a qcow2 image with LUKS (AES-256-XTS) encryption,
// exported as a file over FUSE by qemu-storage-daemon.
func qcowLUKSTarget(work string) (*target, error) {
	if err := ensureTool("qemu-img", "qemu-utils"); err != nil {
		return nil, err
	}
	if err := ensureTool("qemu-storage-daemon", "qemu-system-common"); err != nil {
		return nil, err
	}
	var undo undoStack
	fail := func(err error) (*target, error) { undo.run(); return nil, err }
	dir := filepath.Join(work, "qcow2-luks")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	img, mnt := filepath.Join(dir, "img.qcow2"), filepath.Join(dir, "export")
	secret := "secret,id=sec0,data=" + peerPassword
	if _, err := sh("qemu-img", "create", "-q", "-f", "qcow2", "--object", secret,
		"-o", "encrypt.format=luks,encrypt.key-secret=sec0", img, "2G"); err != nil {
		return nil, err
	}
	if err := os.WriteFile(mnt, nil, 0o600); err != nil {
		return nil, err
	}
	stop, err := background("qemu-storage-daemon", "--object", secret,
		"--blockdev", "driver=file,node-name=file0,filename="+img,
		"--blockdev", "driver=qcow2,node-name=qcow0,file=file0,encrypt.format=luks,encrypt.key-secret=sec0",
		"--export", "type=fuse,id=exp0,node-name=qcow0,mountpoint="+mnt+",writable=on")
	if err != nil {
		return nil, err
	}
	undo.push(func() { stop(); unmount(mnt) })
	if err := waitMounted(mnt, 10*time.Second); err != nil {
		return fail(err)
	}
	return &target{name: "qcow2-luks", path: mnt, teardown: undo.run,
		description: "qcow2 with LUKS (AES-256-XTS), 2 GiB, exported over FUSE by qemu-storage-daemon"}, nil
}

// localFileTarget: a plain file on the local disk, no FUSE, no encryption.
func localFileTarget(work string) (*target, error) {
	dir, remove, err := diskDir(work, "local")
	if err != nil {
		return nil, err
	}
	return &target{name: "local-file", path: filepath.Join(dir, "file"), teardown: remove,
		description: "plain file on the local disk (" + fsType(dir) + "), no FUSE, no encryption (the floor of the stack)"}, nil
}

func fsType(dir string) string {
	out, err := exec.Command("df", "--output=fstype", dir).Output()
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(out))
	return f[len(f)-1]
}

// ebsRestoredTarget: an encrypted volume pre-filled, snapshotted, and a
// new volume restored from that snapshot: until a block is written, its
// reads go through to the snapshot. The runner must not pre-fill it.
func ebsRestoredTarget(o options, work string) (*target, error) {
	var undo undoStack
	fail := func(err error) (*target, error) { undo.run(); return nil, err }
	data, mnt := filepath.Join(work, "ebs-restored", "data"), filepath.Join(work, "ebs-restored", "mnt")
	stop, pid, err := backgroundPID(o.ebsBin, "serve", "--data-dir", data, "--mount-dir", mnt, "--log-level", "warn")
	if err != nil {
		return nil, err
	}
	undo.push(stop)
	d := daemonCLI{bin: o.ebsBin, sock: filepath.Join(data, "ebs.sock"), mnt: mnt}
	if _, err := d.run("wait-ready"); err != nil {
		return fail(err)
	}
	parent, err := d.text("ec2", "create-volume", "--size", "2", "--encrypted", "--query", "VolumeId")
	if err != nil {
		return fail(err)
	}
	if _, err := d.run("ec2", "attach-volume", "--volume-id", parent); err != nil {
		return fail(err)
	}
	if err := prefill(filepath.Join(mnt, parent), o.size); err != nil {
		return fail(err)
	}
	snap, err := d.text("ec2", "create-snapshot", "--volume-id", parent, "--query", "SnapshotId")
	if err != nil {
		return fail(err)
	}
	if _, err := d.run("ec2", "wait", "snapshot-completed", "--snapshot-ids", snap); err != nil {
		return fail(err)
	}
	if _, err := d.run("ec2", "detach-volume", "--volume-id", parent); err != nil {
		return fail(err)
	}
	vol, err := d.text("ec2", "create-volume", "--snapshot-id", snap, "--query", "VolumeId")
	if err != nil {
		return fail(err)
	}
	if _, err := d.run("ec2", "attach-volume", "--volume-id", vol); err != nil {
		return fail(err)
	}
	undo.push(func() { d.run("ec2", "detach-volume", "--volume-id", vol) })
	return &target{name: "ebs-restored", path: filepath.Join(mnt, vol), teardown: undo.run, noPrefill: true, daemonPID: pid,
		description: "ebs encrypted volume restored from a snapshot of a pre-filled one, not pre-filled itself: " +
			"reads go through to the snapshot until a job writes the block"}, nil
}

// ext4LoopTarget puts ext4 on a loop device (4 KiB sectors, direct I/O)
// over the backing target's file, and fio's file inside that ext4.
func ext4LoopTarget(name, desc, mnt string, backing *target) (*target, error) {
	var undo undoStack
	undo.push(backing.teardown)
	fail := func(err error) (*target, error) { undo.run(); return nil, err }
	// The loop device needs the whole backing file to exist.
	if err := prefillSize(backing.path); err != nil {
		return fail(err)
	}
	dev, err := sh("losetup", "--find", "--show", "--sector-size", "4096", "--direct-io=on", backing.path)
	if err != nil {
		return fail(err)
	}
	undo.push(func() {
		if _, err := sh("losetup", "-d", dev); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
	})
	if dio, _ := os.ReadFile("/sys/block/" + filepath.Base(dev) + "/loop/dio"); strings.TrimSpace(string(dio)) != "1" {
		desc += " (the loop device fell back to buffered I/O)"
	}
	if _, err := sh("mkfs.ext4", "-q", "-E", "lazy_itable_init=0,lazy_journal_init=0", dev); err != nil {
		return fail(err)
	}
	if err := os.MkdirAll(mnt, 0o700); err != nil {
		return fail(err)
	}
	undo.push(func() { os.Remove(mnt) })
	if _, err := sh("mount", dev, mnt); err != nil {
		return fail(err)
	}
	undo.push(func() { unmount(mnt) })
	return &target{name: name, description: desc, path: filepath.Join(mnt, "file"), teardown: undo.run, daemonPID: backing.daemonPID}, nil
}

// prefillSize makes sure path has its full size: an ebs volume file has
// it already; a new plain file is made 2 GiB (sparse).
func prefillSize(path string) error {
	if st, err := os.Stat(path); err == nil && st.Size() > 0 {
		return nil
	}
	return os.Truncate(path, 2<<30)
}

func ext4OnEBSTarget(o options, work string) (*target, error) {
	if err := ensureLoop(); err != nil {
		return nil, err
	}
	b, err := ebsTarget(o, work, "ext4-ebs", true)
	if err != nil {
		return nil, err
	}
	return ext4LoopTarget("ext4-ebs", "ext4 on a loop device (4 KiB sectors, direct I/O) over an encrypted 2 GiB ebs volume, fio file inside", filepath.Join(work, "ext4-ebs", "ext4"), b)
}

func ext4OnFileTarget(work string) (*target, error) {
	if err := ensureLoop(); err != nil {
		return nil, err
	}
	dir, remove, err := diskDir(work, "ext4-file")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "backing")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		remove()
		return nil, err
	}
	b := &target{path: path, teardown: remove}
	return ext4LoopTarget("ext4-file", "ext4 on a loop device (4 KiB sectors, direct I/O) over a plain 2 GiB file on the local disk ("+fsType(dir)+"), fio file inside", filepath.Join(dir, "ext4"), b)
}

func ensureLoop() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("loop devices and mount need root")
	}
	for _, bin := range []string{"losetup", "mkfs.ext4", "mount", "umount"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("%s is not installed", bin)
		}
	}
	return nil
}

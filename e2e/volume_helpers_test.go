package e2e

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Helpers for the volume tests: a daemon with its own mount dir, volumes,
// loop devices and ext4 mounts, each with a cleanup registered in the
// right order (t.Cleanup runs them last in, first out), and a check that
// nothing is left mounted or attached when a test ends, even a failed one.

// needVolumes skips the test when it cannot run here: no /dev/fuse, not
// root, or a tool that is missing and cannot be installed.
func needVolumes(t *testing.T, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("SKIP: volume tests need root (FUSE mounts, loop devices, mount)")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skipf("SKIP: /dev/fuse is missing: %v", err)
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			installTool(tool)
		}
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("SKIP: %s is missing and could not be installed (apt-get install %s)", tool, toolPackages[tool])
		}
	}
}

// toolPackages are the Debian packages of the tools the tests use.
var toolPackages = map[string]string{
	"losetup": "util-linux", "blkdiscard": "util-linux", "fstrim": "util-linux",
	"mkfs.ext4": "e2fsprogs", "e2fsck": "e2fsprogs", "fio": "fio",
}

var (
	aptMu      sync.Mutex
	aptUpdated bool
)

// installTool tries apt-get once per missing package; failures are left to
// the caller's LookPath.
func installTool(tool string) {
	pkg := toolPackages[tool]
	if pkg == "" {
		return
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return
	}
	aptMu.Lock()
	defer aptMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if !aptUpdated {
		exec.CommandContext(ctx, "apt-get", "update", "-qq").Run()
		aptUpdated = true
	}
	cmd := exec.CommandContext(ctx, "apt-get", "install", "-y", "-qq", "--no-install-recommends", pkg)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	cmd.Run()
}

// volEnv is a daemon with a mount dir of its own.
type volEnv struct {
	t        *testing.T
	d        *daemon
	dataDir  string
	mountDir string
	mu       sync.Mutex
	ids      []string // the volumes created, to find their loop devices
}

// startVolumeDaemon starts `ebs serve` with a fresh data dir and mount dir.
// Its cleanups, in the order they run: stop the daemon with SIGTERM (it
// unmounts its FUSE mount) and unmount the dead mount of a daemon that was
// killed, the harness's SIGKILL if that did not work, then
// checkNothingLeft. Loop devices and mounts made later are undone before
// all of these.
func startVolumeDaemon(t *testing.T) *volEnv {
	t.Helper()
	e := &volEnv{t: t, dataDir: t.TempDir(), mountDir: filepath.Join(t.TempDir(), "volumes")}
	root := filepath.Dir(e.dataDir) // the parent of all of the test's TempDirs
	t.Cleanup(func() { checkNothingLeft(t, root, e.volumeIDs()...) })
	e.d = startDaemon(t, e.dataDir, "--mount-dir", e.mountDir)
	t.Cleanup(e.stopQuietly)
	return e
}

// stopQuietly stops the daemon if it still runs, with SIGTERM (SIGKILL
// after 30s), without t.Fatal: it runs as a cleanup. A daemon stopped so
// must have unmounted its mount dir; the dead mount of a daemon that was
// killed is unmounted here.
func (e *volEnv) stopQuietly() {
	t, d := e.t, e.d
	if d.cmd != nil {
		d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-d.exited:
			if err != nil {
				t.Errorf("daemon exit after SIGTERM in cleanup: %v", err)
			}
			if isMounted(e.mountDir) {
				t.Errorf("the daemon stopped with SIGTERM but left its mount at %s", e.mountDir)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("daemon did not stop within 30s of SIGTERM; killing it")
			d.cmd.Process.Kill()
			<-d.exited
		}
		d.cmd = nil
	}
	unmountQuietly(e.mountDir)
}

// kill SIGKILLs the daemon, as a crash, and waits until it is gone.
func (d *daemon) kill() {
	d.t.Helper()
	if d.cmd == nil {
		d.t.Fatal("kill: the daemon is not running")
	}
	d.cmd.Process.Kill()
	select {
	case <-d.exited:
	case <-time.After(30 * time.Second):
		d.t.Fatal("daemon did not die after SIGKILL")
	}
	d.cmd = nil
}

// createVolume runs create-volume with the extra flags and returns the id.
func (e *volEnv) createVolume(extra ...string) string {
	e.t.Helper()
	out := e.d.ok(append([]string{"ec2", "create-volume"}, extra...)...)
	id := str(e.t, out, "VolumeId")
	if !strings.HasPrefix(id, "vol-") || len(id) != 21 {
		e.t.Fatalf("create-volume: VolumeId %q", id)
	}
	e.mu.Lock()
	e.ids = append(e.ids, id)
	e.mu.Unlock()
	return id
}

func (e *volEnv) volumeIDs() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.ids...)
}

// file is where an attached volume shows up.
func (e *volEnv) file(id string) string { return filepath.Join(e.mountDir, id) }

// attach attaches a volume and returns its file, checking the answer and
// that the file exists with the volume's size.
func (e *volEnv) attach(id string) string {
	e.t.Helper()
	out := e.d.ok("ec2", "attach-volume", "--volume-id", id)
	if str(e.t, out, "State") != "attached" || str(e.t, out, "Device") != e.file(id) || str(e.t, out, "VolumeId") != id {
		e.t.Fatalf("attach-volume %s = %v", id, out)
	}
	e.checkFile(id)
	return e.file(id)
}

// checkFile checks that an attached volume's file is there, sized as the volume.
func (e *volEnv) checkFile(id string) {
	e.t.Helper()
	vols := field(e.t, e.d.ok("ec2", "describe-volumes", "--volume-ids", id), "Volumes").([]any)
	size := int64(vols[0].(map[string]any)["Size"].(float64)) << 30
	fi, err := os.Stat(e.file(id))
	if err != nil {
		e.t.Fatalf("volume file of %s: %v", id, err)
	}
	if !fi.Mode().IsRegular() || fi.Size() != size {
		e.t.Fatalf("volume file of %s: mode %v size %d, want a regular file of %d bytes", id, fi.Mode(), fi.Size(), size)
	}
}

func (e *volEnv) detach(id string) {
	e.t.Helper()
	out := e.d.ok("ec2", "detach-volume", "--volume-id", id)
	if str(e.t, out, "State") != "detached" {
		e.t.Fatalf("detach-volume %s = %v", id, out)
	}
	if _, err := os.Stat(e.file(id)); !os.IsNotExist(err) {
		e.t.Fatalf("volume file of %s is still there after detach: %v", id, err)
	}
}

// volumeState returns a volume's State and its attachments.
func (e *volEnv) volumeState(id string) (string, []any) {
	e.t.Helper()
	vols := field(e.t, e.d.ok("ec2", "describe-volumes", "--volume-ids", id), "Volumes").([]any)
	if len(vols) != 1 {
		e.t.Fatalf("describe-volumes %s: %d volumes", id, len(vols))
	}
	v := vols[0].(map[string]any)
	att, _ := v["Attachments"].([]any)
	return v["State"].(string), att
}

// sh runs a command and requires exit 0; it returns the combined output.
func sh(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// loopDev is a loop device the test set up.
type loopDev struct {
	t    *testing.T
	dev  string
	done bool
}

// losetup attaches a loop device to file (losetup --find --show FLAGS
// file); a cleanup detaches it.
func losetup(t *testing.T, file string, flags ...string) *loopDev {
	t.Helper()
	args := append(append([]string{"--find", "--show"}, flags...), file)
	l := &loopDev{t: t, dev: strings.TrimSpace(sh(t, "losetup", args...))}
	if !strings.HasPrefix(l.dev, "/dev/loop") {
		t.Fatalf("losetup printed %q", l.dev)
	}
	t.Cleanup(func() {
		if !l.done {
			l.detachQuietly()
		}
	})
	return l
}

// detach runs losetup -d and requires it to work.
func (l *loopDev) detach() {
	l.t.Helper()
	sh(l.t, "losetup", "-d", l.dev)
	l.done = true
}

// detachQuietly tries losetup -d a few times (udev may still hold the
// device for a moment).
func (l *loopDev) detachQuietly() {
	for i := 0; i < 20; i++ {
		if exec.Command("losetup", "-d", l.dev).Run() == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	l.done = true
}

// fsMount is a file system the test mounted.
type fsMount struct {
	t    *testing.T
	dir  string
	done bool
}

// mountFS mounts dev on a new directory; a cleanup unmounts it.
func mountFS(t *testing.T, dev string, opts ...string) *fsMount {
	t.Helper()
	m := &fsMount{t: t, dir: filepath.Join(t.TempDir(), "mnt")}
	if err := os.Mkdir(m.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	sh(t, "mount", append(opts, dev, m.dir)...)
	t.Cleanup(func() {
		if !m.done {
			unmountQuietly(m.dir)
			m.done = true
		}
	})
	return m
}

// unmount unmounts and requires it to work.
func (m *fsMount) unmount() {
	m.t.Helper()
	sh(m.t, "umount", m.dir)
	m.done = true
}

// unmountQuietly unmounts dir, retrying while it is busy, lazily as the
// last resort.
func unmountQuietly(dir string) {
	for i := 0; i < 10; i++ {
		if !isMounted(dir) {
			return
		}
		if exec.Command("umount", dir).Run() == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	exec.Command("umount", "-l", dir).Run()
}

// mountsUnder lists the mount points in /proc/mounts at or under dir.
func mountsUnder(dir string) []string {
	data, err := os.ReadFile("/proc/mounts")
	if err != nil {
		return nil
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 {
			continue
		}
		mp := unescapeMount(f[1])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp+" ("+f[2]+")")
		}
	}
	return out
}

func isMounted(dir string) bool {
	for _, m := range mountsUnder(dir) {
		if strings.HasPrefix(m, dir+" (") {
			return true
		}
	}
	return false
}

// unescapeMount undoes /proc/mounts' octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var c byte
			ok := true
			for _, d := range s[i+1 : i+4] {
				if d < '0' || d > '7' {
					ok = false
				}
				c = c*8 + byte(d-'0')
			}
			if ok {
				b.WriteByte(c)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// loopsUnder lists the loop devices whose backing file is under dir, or is
// one of the named files wherever it is (a lazily unmounted FUSE mount
// shows its files without the mount dir).
func loopsUnder(dir string, names ...string) []string {
	var out []string
	devs, _ := filepath.Glob("/sys/block/loop*/loop/backing_file")
	for _, p := range devs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		back := strings.TrimSpace(string(b))
		match := strings.Contains(back, dir+"/")
		for _, n := range names {
			match = match || filepath.Base(strings.TrimSuffix(back, " (deleted)")) == n
		}
		if match {
			out = append(out, "/dev/"+filepath.Base(filepath.Dir(filepath.Dir(p)))+" -> "+back)
		}
	}
	return out
}

// checkNothingLeft runs last of a test's cleanups: no mount under root (the
// test's temporary dirs) and no loop device on its files may remain. What
// remains is reported, then removed as well as possible, so that the
// next tests and the machine stay clean.
func checkNothingLeft(t *testing.T, root string, volumes ...string) {
	loops, mounts := loopsUnder(root, volumes...), mountsUnder(root)
	if len(loops) == 0 && len(mounts) == 0 {
		return
	}
	t.Errorf("left behind after the test: mounts %v, loop devices %v", mounts, loops)
	for _, m := range mounts {
		dir := m[:strings.LastIndex(m, " (")]
		exec.Command("umount", "-l", dir).Run()
	}
	for _, l := range loops {
		exec.Command("losetup", "-d", l[:strings.Index(l, " ")]).Run()
	}
}

// openVolume opens an attached volume's file; a cleanup closes it (before
// the daemon stops and the loop devices go).
func openVolume(t *testing.T, path string, flag int) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// leftoverScenario, when set, makes TestNothingLeftBehind the child that
// fails on purpose with everything set up (see below).
const leftoverScenario = "EBS_E2E_LEFTOVER_SCENARIO"

// TestNothingLeftBehind checks the cleanups that every volume test
// registers: it runs this test binary again as a child that sets up a
// daemon, an attached volume, a loop device, a mounted ext4 and open
// files, and then fails (t.Fatal), panics, or crashes the daemon (SIGKILL)
// and fails. Once the child has exited, no mount under its temporary dirs
// may remain in /proc/mounts and no loop device may point at its files;
// and the child's own final check must have found nothing to clean up.
// (Every volume test also ends with that check: checkNothingLeft.)
func TestNothingLeftBehind(t *testing.T) {
	if sc := os.Getenv(leftoverScenario); sc != "" {
		for _, sc := range strings.Split(sc, ",") {
			t.Run(sc, func(t *testing.T) { leftoverChild(t, sc) })
		}
		return
	}
	needVolumes(t, "losetup", "mkfs.ext4")
	scenarios := []string{"fatal", "crash", "panic"} // a panic ends the child: last
	tmp := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run", "^TestNothingLeftBehind$", "-test.count", "1", "-test.v")
	cmd.Env = append(os.Environ(), leftoverScenario+"="+strings.Join(scenarios, ","), "TMPDIR="+tmp)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the child did not fail:\n%s", out)
	}
	for _, sc := range scenarios {
		if !strings.Contains(string(out), "deliberate failure: "+sc) {
			t.Fatalf("the child did not fail as planned in scenario %s (%v):\n%s", sc, err, out)
		}
	}
	if strings.Contains(string(out), "left behind after the test") || strings.Contains(string(out), "left its mount") {
		t.Errorf("the child's cleanups left something for the last resort:\n%s", out)
	}
	vols := regexp.MustCompile(`volume (vol-[0-9a-f]{17}) attached`).FindAllStringSubmatch(string(out), -1)
	if len(vols) != 2*len(scenarios) {
		t.Fatalf("the child attached %d volumes, want %d:\n%s", len(vols), 2*len(scenarios), out)
	}
	var names []string
	for _, v := range vols {
		names = append(names, v[1])
	}
	// Loop devices are released asynchronously; give them a moment.
	var mounts, loops []string
	for i := 0; i < 50; i++ {
		mounts, loops = mountsUnder(tmp), loopsUnder(tmp, names...)
		if len(mounts)+len(loops) == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(mounts)+len(loops) > 0 {
		t.Errorf("after the child: mounts %v, loop devices %v\n%s", mounts, loops, out)
		checkNothingLeft(t, tmp, names...) // clean up, and say so
	}
}

// leftoverChild sets everything up and fails as the scenario says.
func leftoverChild(t *testing.T, scenario string) {
	needVolumes(t, "losetup", "mkfs.ext4")
	e := startVolumeDaemon(t)
	vol := e.createVolume("--size", "1", "--encrypted")
	file := e.attach(vol)
	t.Logf("volume %s attached at %s", vol, file)
	l := losetup(t, file, "--sector-size", "4096", "--direct-io=on")
	sh(t, "mkfs.ext4", "-q", l.dev)
	m := mountFS(t, l.dev)
	writeRandomFile(t, filepath.Join(m.dir, "data"), 1<<20)
	// A second volume, open by the test itself, and a file open on ext4.
	other := e.createVolume("--size", "1")
	t.Logf("volume %s attached at %s", other, e.attach(other))
	openVolume(t, e.file(other), os.O_RDWR)
	held, err := os.Open(filepath.Join(m.dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { held.Close() })
	switch scenario {
	case "panic":
		panic("deliberate failure: " + scenario)
	case "crash":
		e.d.kill()
	}
	t.Fatal("deliberate failure: " + scenario)
}

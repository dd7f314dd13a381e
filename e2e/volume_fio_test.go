package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestFioVerify runs fio with crc32c verification straight on an attached
// encrypted volume's file: 4 KiB random writes at queue depth 16 with
// libaio and O_DIRECT, then 1 MiB sequential writes; each job reads back
// and checks everything it wrote.
func TestFioVerify(t *testing.T) {
	needVolumes(t, "fio")
	e := startVolumeDaemon(t)
	newKey(t, e.d, "alias/fio")
	file := e.attach(e.createVolume("--size", "1", "--encrypted", "--kms-key-id", "alias/fio"))

	jobs := []struct {
		name string
		args []string
	}{
		{"randwrite-4k", []string{"--rw=randwrite", "--bs=4k", "--size=64M", "--offset=0", "--iodepth=16"}},
		{"seqwrite-1m", []string{"--rw=write", "--bs=1M", "--size=256M", "--offset=512M", "--iodepth=4"}},
	}
	for _, j := range jobs {
		start := time.Now()
		args := append([]string{"--name=" + j.name, "--filename=" + file, "--ioengine=libaio", "--direct=1",
			"--verify=crc32c", "--do_verify=1", "--verify_fatal=1", "--verify_dump=0", "--verify_state_save=0", "--output-format=json"}, j.args...)
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		cmd := exec.CommandContext(ctx, "fio", args...)
		cmd.Dir = t.TempDir() // fio leaves its verify state files in its working directory
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		cancel()
		if err != nil || strings.Contains(stderr.String(), "verify") {
			t.Fatalf("fio %s: %v\nstderr: %s\nstdout: %s", j.name, err, stderr.String(), out)
		}
		var res struct {
			Jobs []struct {
				Error int `json:"error"`
				Read  struct {
					IOBytes int64 `json:"io_bytes"`
				} `json:"read"`
				Write struct {
					IOBytes int64   `json:"io_bytes"`
					IOPS    float64 `json:"iops"`
				} `json:"write"`
			} `json:"jobs"`
		}
		if err := json.Unmarshal(out[strings.Index(string(out), "{"):], &res); err != nil || len(res.Jobs) != 1 {
			t.Fatalf("fio %s: JSON output: %v\n%s", j.name, err, out)
		}
		r := res.Jobs[0]
		// Verification reads back what was written; fio counts those reads.
		if r.Error != 0 || r.Write.IOBytes == 0 || r.Read.IOBytes < r.Write.IOBytes {
			t.Fatalf("fio %s: error %d, wrote %d bytes, verified (read) %d", j.name, r.Error, r.Write.IOBytes, r.Read.IOBytes)
		}
		t.Logf("fio %s: wrote %d MiB at %.0f IOPS, verified %d MiB, in %v", j.name, r.Write.IOBytes>>20, r.Write.IOPS,
			r.Read.IOBytes>>20, time.Since(start).Round(time.Millisecond))
	}
}

// TestUnalignedConcurrentWrites writes 1000-byte pieces (so most writes
// cover parts of two blocks, read-modify-write) from several writers at
// once, neighbours sharing blocks, and reads everything back, before and
// after a restart.
func TestUnalignedConcurrentWrites(t *testing.T) {
	needVolumes(t)
	e := startVolumeDaemon(t)
	file := e.attach(e.createVolume("--size", "1", "--encrypted"))
	const piece, pieces, writers, base = 1000, 4000, 4, 12345
	want := make([]byte, piece*pieces)
	rand.Read(want)
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		f := openVolume(t, file, os.O_RDWR)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer f.Close()
			for i := w; i < pieces; i += writers {
				if _, err := f.WriteAt(want[i*piece:(i+1)*piece], int64(base+i*piece)); err != nil {
					errs <- err
					return
				}
			}
			errs <- f.Sync()
		}()
	}
	wg.Wait()
	for w := 0; w < writers; w++ {
		if err := <-errs; err != nil {
			t.Fatalf("writer: %v", err)
		}
	}
	check := func(when string) {
		t.Helper()
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		got := make([]byte, len(want)+2*base)
		if _, err := f.ReadAt(got, 0); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got[base:base+len(want)], want) {
			t.Fatalf("%s: %d bytes differ from what was written", when, countDiff(got[base:base+len(want)], want))
		}
		if !bytes.Equal(got[:base], make([]byte, base)) || !bytes.Equal(got[base+len(want):], make([]byte, base)) {
			t.Fatalf("%s: bytes around the written range are not zeros", when)
		}
	}
	check("before the restart")
	e.d.restart()
	check("after the restart")
}

package main

import (
	"strings"
	"testing"
	"time"
)

const sample = `goos: linux
goarch: amd64
pkg: github.com/ebs-dev/ebs/blockdev/xts
cpu: AMD EPYC
BenchmarkXTS/xcrypto/encrypt/4096-2         	  147392	      8090 ns/op	 506.31 MB/s	       0 B/op	       0 allocs/op
--- SKIP: BenchmarkOpenSSLSpeed
    bench_test.go:63: openssl not installed
PASS
ok  	github.com/ebs-dev/ebs/blockdev/xts	3.1s
goos: linux
goarch: amd64
pkg: github.com/ebs-dev/ebs/snapshot
cpu: AMD EPYC
BenchmarkSnapshotDelete/unique/size=1GiB/data=16MiB-2  	       5	  60344187 ns/op	      4096 unique-blocks	      3771 us/MiB-written
PASS
`

func TestParse(t *testing.T) {
	r := parse(sample)
	if len(r.pkgs) != 2 || r.count() != 2 || len(r.failures) != 0 {
		t.Fatalf("got %d packages, %d results, failures %v", len(r.pkgs), r.count(), r.failures)
	}
	x := r.pkgs[0]
	if x.config["cpu"] != "AMD EPYC" || x.config["goos"] != "linux" || x.pkg != "github.com/ebs-dev/ebs/blockdev/xts" {
		t.Errorf("config %v of %s", x.config, x.pkg)
	}
	res := x.results[0]
	if res.name != "BenchmarkXTS/xcrypto/encrypt/4096" || res.procs != "2" || res.iters != 147392 || res.metrics["MB/s"] != 506.31 {
		t.Errorf("result %+v", res)
	}
	if len(x.skipped) != 1 || !strings.Contains(x.skipped[0], "openssl not installed") {
		t.Errorf("skipped %q", x.skipped)
	}
	md := r.markdown(time.Unix(0, 0))
	for _, want := range []string{
		"| XTS/xcrypto/encrypt/4096 | 8,090 | 506.3 | 0 | 0 |  |",
		"| SnapshotDelete/unique/size=1GiB/data=16MiB | 60,344,187 | | | | 4,096 unique-blocks, 3,771 us/MiB-written |",
		"Machine: linux/amd64, AMD EPYC.",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if r := parse(sample + sample); len(r.pkgs) != 2 || r.count() != 4 {
		t.Errorf("two runs of the same packages: %d packages, %d results, want 2 and 4", len(r.pkgs), r.count())
	}
	if r := parse("FAIL\tgithub.com/x\t1s\n"); len(r.failures) != 1 {
		t.Errorf("a FAIL line is not a failure: %v", r.failures)
	}
}

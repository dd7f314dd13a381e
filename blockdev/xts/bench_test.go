package xts

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// sectorFunc is Encrypt or Decrypt of one implementation.
type sectorFunc func(dst, src []byte, sector uint64) error

// BenchmarkXTS measures x/crypto/xts and every implementation here on one
// 4 KiB sector, in place: BenchmarkXTS/<impl>/<encrypt|decrypt>/4096.
func BenchmarkXTS(b *testing.B) {
	key := randomKey(b)
	ref := mustRef(b, key)
	b.Run("xcrypto", func(b *testing.B) {
		benchDirections(b,
			func(dst, src []byte, s uint64) error { ref.Encrypt(dst, src, s); return nil },
			func(dst, src []byte, s uint64) error { ref.Decrypt(dst, src, s); return nil })
	})
	for _, impl := range implementations() {
		c := mustNew(b, key, impl)
		b.Run(impl.String(), func(b *testing.B) { benchDirections(b, c.Encrypt, c.Decrypt) })
	}
}

func benchDirections(b *testing.B, enc, dec sectorFunc) {
	b.Run("encrypt", func(b *testing.B) { benchSizes(b, enc) })
	b.Run("decrypt", func(b *testing.B) { benchSizes(b, dec) })
}

func benchSizes(b *testing.B, f sectorFunc) {
	for _, size := range []int{SectorSize} {
		b.Run(strconv.Itoa(size), func(b *testing.B) {
			buf := randomBytes(b, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			var sector uint64
			for b.Loop() {
				if err := f(buf, buf, sector); err != nil {
					b.Fatal(err)
				}
				sector++
			}
		})
	}
}

// BenchmarkOpenSSLSpeed is not a benchmark of this package: it runs
// `openssl speed -evp aes-256-xts -bytes 4096 -seconds 2` (and the same with
// -decrypt) once, to put the numbers of BenchmarkXTS next to OpenSSL's on the
// same machine, and reports them as openssl-enc-MB/s and openssl-dec-MB/s
// (1 MB = 10^6 bytes, as go test's MB/s). It skips if openssl is missing.
func BenchmarkOpenSSLSpeed(b *testing.B) {
	res := opensslSpeed()
	if res.err != nil {
		b.Skip(res.err.Error())
	}
	b.Logf("%s: encrypt %.0f MB/s, decrypt %.0f MB/s at 4096 bytes (one core)", res.version, res.encMBs, res.decMBs)
	for b.Loop() {
	}
	b.ReportMetric(res.encMBs, "openssl-enc-MB/s")
	b.ReportMetric(res.decMBs, "openssl-dec-MB/s")
}

type opensslResult struct {
	version        string
	encMBs, decMBs float64
	err            error
}

// opensslSpeed runs openssl speed once per test binary.
var opensslSpeed = sync.OnceValue(func() (r opensslResult) {
	path, err := exec.LookPath("openssl")
	if err != nil {
		r.err = fmt.Errorf("openssl not installed (%v): no OpenSSL numbers to compare with", err)
		return r
	}
	out, _ := exec.Command(path, "version").Output()
	r.version = strings.TrimSpace(string(out))
	if r.encMBs, r.err = runOpenSSLSpeed(path); r.err != nil {
		return r
	}
	r.decMBs, r.err = runOpenSSLSpeed(path, "-decrypt")
	return r
})

// runOpenSSLSpeed runs openssl speed on 4 KiB blocks and returns MB/s.
func runOpenSSLSpeed(path string, extra ...string) (float64, error) {
	args := append([]string{"speed", "-evp", "aes-256-xts", "-bytes", "4096", "-seconds", "2"}, extra...)
	cmd := exec.Command(path, args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("openssl %s: %v", strings.Join(args, " "), err)
	}
	return parseOpenSSLSpeed(out.String())
}

// parseOpenSSLSpeed finds the result line ("AES-256-XTS  5378379.38k", in
// 1000s of bytes per second) and converts it to MB/s.
func parseOpenSSLSpeed(out string) (float64, error) {
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && strings.EqualFold(f[0], "AES-256-XTS") && strings.HasSuffix(f[1], "k") {
			kBs, err := strconv.ParseFloat(strings.TrimSuffix(f[1], "k"), 64)
			if err != nil {
				return 0, fmt.Errorf("openssl speed: bad number %q", f[1])
			}
			return kBs / 1000, nil
		}
	}
	return 0, fmt.Errorf("openssl speed: no AES-256-XTS result in %q", out)
}

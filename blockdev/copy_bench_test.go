package blockdev

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/ebs-dev/ebs/blockdev/xts"
)

// BenchmarkCopyView measures a re-encrypting copy of 256 MiB between two
// lineages of one store, below the KMS and the daemon.
func BenchmarkCopyView(b *testing.B) {
	tv := newTestVolumeB(b, 512<<20)
	data := make([]byte, 1<<20)
	rand.Read(data)
	for off := int64(0); off < 256<<20; off += 1 << 20 {
		if _, err := tv.v.WriteAt(data, off); err != nil {
			b.Fatal(err)
		}
	}
	if err := tv.v.Sync(); err != nil {
		b.Fatal(err)
	}
	key := make([]byte, xts.KeySize)
	rand.Read(key)
	dst, _ := xts.New(key)
	b.SetBytes(256 << 20)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		view, err := tv.st.OpenView(tv.lineageID, 1, uint64(tv.size/BlockSize))
		if err != nil {
			b.Fatal(err)
		}
		lin, err := tv.st.OpenLineage(uint64(100+i), 1, uint64(tv.size/BlockSize))
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if err := copyView(context.Background(), view, tv.v.cipher, lin, dst, nil); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(time.Since(start).Milliseconds()), "copy-ms")
		if err := lin.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

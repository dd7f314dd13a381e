package audit

import (
	"os"
	"testing"
)

// BenchmarkAppendParallel appends from many goroutines at once; group commit
// lets them share syncs, shown as records/sync.
func BenchmarkAppendParallel(b *testing.B) {
	tr, _ := openTrail(b)
	b.SetParallelism(16) // 16 x GOMAXPROCS appenders
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			if err := tr.Append(newRecord(i)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportThroughput(b, tr)
}

// BenchmarkAppendSerial is the baseline: one appender, one sync per record.
func BenchmarkAppendSerial(b *testing.B) {
	tr, _ := openTrail(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if err := tr.Append(newRecord(i)); err != nil {
			b.Fatal(err)
		}
	}
	reportThroughput(b, tr)
}

func reportThroughput(b *testing.B, tr *Trail) {
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	if n := tr.syncs.Load(); n > 0 {
		b.ReportMetric(float64(b.N)/float64(n), "records/sync")
	}
}

// BenchmarkLookupPage reads the newest page of a 10,000-record trail.
func BenchmarkLookupPage(b *testing.B) {
	tr, _ := openTrail(b)
	tr.sync = func(*os.File) error { return nil } // setup only; lookups do not sync
	for i := range 10_000 {
		if err := tr.Append(newRecord(i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if rs, _, err := tr.Lookup(Query{}); err != nil || len(rs) != MaxLookupResults {
			b.Fatalf("Lookup: %d records, %v", len(rs), err)
		}
	}
}

package embedded_test

import (
	"context"
	"testing"

	"github.com/ebs-dev/ebs/kmsclient"
)

// BenchmarkDecryptParallel decrypts from many goroutines at once, the load of
// many volumes attaching: each call is recorded durably, and concurrent calls
// share the audit trail's syncs (shown as calls/sync).
func BenchmarkDecryptParallel(b *testing.B) {
	h, ctx, blob := decryptSetup(b)
	b.SetParallelism(16) // 16 x GOMAXPROCS callers
	b.ReportAllocs()
	before := h.trail.Syncs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := h.kms.Decrypt(ctx, &kmsclient.DecryptInput{CiphertextBlob: blob}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportCalls(b, h, before)
}

// BenchmarkDecryptSerial is one caller: one trail sync per call.
func BenchmarkDecryptSerial(b *testing.B) {
	h, ctx, blob := decryptSetup(b)
	b.ReportAllocs()
	before := h.trail.Syncs()
	for b.Loop() {
		if _, err := h.kms.Decrypt(ctx, &kmsclient.DecryptInput{CiphertextBlob: blob}); err != nil {
			b.Fatal(err)
		}
	}
	reportCalls(b, h, before)
}

// BenchmarkTagResourceSerial is a management call that changes the store:
// the cost of recording a change with it.
func BenchmarkTagResourceSerial(b *testing.B) {
	h := newHarness(b, b.TempDir())
	ctx := rootCtx(b, h)
	k := must(h.kms.CreateKey(ctx, &kmsclient.CreateKeyInput{}))(b).KeyMetadata
	tags := []kmsclient.Tag{{TagKey: "k", TagValue: "v"}}
	b.ReportAllocs()
	before := h.trail.Syncs()
	for b.Loop() {
		if _, err := h.kms.TagResource(ctx, &kmsclient.TagResourceInput{KeyID: k.KeyID, Tags: tags}); err != nil {
			b.Fatal(err)
		}
	}
	reportCalls(b, h, before)
}

func decryptSetup(b *testing.B) (*harness, context.Context, []byte) {
	h := newHarness(b, b.TempDir())
	ctx := rootCtx(b, h)
	k := must(h.kms.CreateKey(ctx, &kmsclient.CreateKeyInput{}))(b).KeyMetadata
	blob := must(h.kms.GenerateDataKeyWithoutPlaintext(ctx, &kmsclient.GenerateDataKeyInput{KeyID: k.KeyID, NumberOfBytes: 64}))(b).CiphertextBlob
	return h, ctx, blob
}

func reportCalls(b *testing.B, h *harness, syncsBefore int64) {
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
	if n := h.trail.Syncs() - syncsBefore; n > 0 {
		b.ReportMetric(float64(b.N)/float64(n), "calls/sync")
	}
}

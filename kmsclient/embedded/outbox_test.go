package embedded_test

import (
	"errors"
	"os"
	"sync/atomic"
	"testing"

	"github.com/ebs-dev/ebs/kmsclient"
	"github.com/ebs-dev/ebs/kmsclient/audit"
	"github.com/ebs-dev/ebs/kmsclient/embedded"
)

// faultyDisk is a trail sync that fails while fail is set.
type faultyDisk struct{ fail atomic.Bool }

var errEIO = errors.New("input/output error")

func (d *faultyDisk) sync(f *os.File) error {
	if d.fail.Load() {
		return errEIO
	}
	return f.Sync()
}

// countEvents returns how many records of the trail file have the event name
// and name the key ARN as a resource.
func countEvents(t testing.TB, path, event, arn string) int {
	t.Helper()
	n := 0
	for _, rec := range (&trailReader{path: path}).next(t) {
		if rec["eventName"] != event {
			continue
		}
		for _, res := range rec["resources"].([]any) {
			if res.(map[string]any)["ARN"] == arn {
				n++
			}
		}
	}
	return n
}

func hasTag(t testing.TB, h *harness, keyID, tagKey string) bool {
	t.Helper()
	tags := must(h.kms.ListResourceTags(rootCtx(t, h), &kmsclient.ListInput{KeyID: keyID}))(t).Tags
	for _, tag := range tags {
		if tag.TagKey == tagKey {
			return true
		}
	}
	return false
}

// TestChangeRecordedWhileTrailFails checks item 6 of issue 10: while the
// trail's disk fails, a change still happens only with its record (kept in
// the outbox, in the change's transaction), so the call succeeds; a call that
// changes nothing fails, since its record cannot be made durable; and once
// the disk works the trail takes every record exactly once, without a
// restart.
func TestChangeRecordedWhileTrailFails(t *testing.T) {
	disk := &faultyDisk{}
	h := newHarnessWith(t, t.TempDir(), audit.Options{Sync: disk.sync})
	ctx := rootCtx(t, h)
	k := must(h.kms.CreateKey(ctx, &kmsclient.CreateKeyInput{}))(t).KeyMetadata
	blob := must(h.kms.Encrypt(ctx, &kmsclient.EncryptInput{KeyID: k.KeyID, Plaintext: []byte("x")}))(t).CiphertextBlob

	disk.fail.Store(true)
	_, tagErr := h.kms.TagResource(ctx, &kmsclient.TagResourceInput{KeyID: k.KeyID, Tags: []kmsclient.Tag{{TagKey: "during", TagValue: "failure"}}})
	dec, decErr := h.kms.Decrypt(ctx, &kmsclient.DecryptInput{CiphertextBlob: blob})
	if !errors.Is(decErr, kmsclient.ErrInternal) || dec != nil {
		t.Errorf("Decrypt while the trail fails = %v, %v; want KMSInternalException and no plaintext", dec, decErr)
	}

	disk.fail.Store(false)
	tagged := hasTag(t, h, k.KeyID, "during") // a later call works again
	switch {
	case tagged && tagErr != nil:
		t.Errorf("TagResource failed with %v, yet its change was made", tagErr)
	case !tagged && tagErr == nil:
		t.Errorf("TagResource succeeded, yet its change is missing")
	}
	if n := countEvents(t, h.trailPath, "TagResource", k.Arn); tagged && n != 1 {
		t.Errorf("the trail has %d TagResource records, want 1", n)
	}
	if n := countEvents(t, h.trailPath, "Decrypt", k.Arn); n != 0 {
		t.Errorf("the trail has %d records of the failed Decrypt", n)
	}
	must(h.kms.Decrypt(ctx, &kmsclient.DecryptInput{CiphertextBlob: blob}))(t)
	h.reopen(t)
	if n := countEvents(t, h.trailPath, "TagResource", k.Arn); tagged && n != 1 {
		t.Errorf("after a restart the trail has %d TagResource records, want 1", n)
	}
}

// TestOutboxDeliveredAtOpen checks that a change whose record never reached
// the trail (the trail failed, then the daemon stopped) has it appended by
// Open, once, before the KMS serves; and that Open refuses to serve while
// the trail cannot take it.
func TestOutboxDeliveredAtOpen(t *testing.T) {
	disk := &faultyDisk{}
	h := newHarnessWith(t, t.TempDir(), audit.Options{Sync: disk.sync})
	ctx := rootCtx(t, h)
	k := must(h.kms.CreateKey(ctx, &kmsclient.CreateKeyInput{}))(t).KeyMetadata
	disk.fail.Store(true)
	_, tagErr := h.kms.TagResource(ctx, &kmsclient.TagResourceInput{KeyID: k.KeyID, Tags: []kmsclient.Tag{{TagKey: "lost", TagValue: "record"}}})
	h.close(t) // stopped before any later call delivered the record

	if k2, err := embedded.Open(h.options()); err == nil {
		k2.Close()
		t.Error("Open served with records it could not deliver")
	}
	disk.fail.Store(false)
	h.open(t)
	if !hasTag(t, h, k.KeyID, "lost") {
		t.Fatalf("the change is gone (TagResource said %v)", tagErr)
	}
	if n := countEvents(t, h.trailPath, "TagResource", k.Arn); n != 1 {
		t.Errorf("the trail has %d TagResource records, want 1", n)
	}
	h.reopen(t)
	if n := countEvents(t, h.trailPath, "TagResource", k.Arn); n != 1 {
		t.Errorf("after a second restart the trail has %d TagResource records, want 1", n)
	}
}

// TestOutboxReplayIsIdempotent leaves an outbox entry behind after its
// records reached the trail, as a crash between the append and the delete
// would: the replay at Open must not append them again.
func TestOutboxReplayIsIdempotent(t *testing.T) {
	h := newHarness(t, t.TempDir())
	ctx := rootCtx(t, h)
	k := must(h.kms.CreateKey(ctx, &kmsclient.CreateKeyInput{}))(t).KeyMetadata
	h.kms.SetOutboxRemoveForTest(func(string) error { return errEIO })
	must(h.kms.TagResource(ctx, &kmsclient.TagResourceInput{KeyID: k.KeyID, Tags: []kmsclient.Tag{{TagKey: "a", TagValue: "b"}}}))(t)
	must(h.kms.TagResource(ctx, &kmsclient.TagResourceInput{KeyID: k.KeyID, Tags: []kmsclient.Tag{{TagKey: "c", TagValue: "d"}}}))(t)
	h.reopen(t)
	must(h.kms.DescribeKey(ctx, &kmsclient.KeyIDInput{KeyID: k.KeyID}))(t)
	h.reopen(t)
	if n := countEvents(t, h.trailPath, "TagResource", k.Arn); n != 2 {
		t.Errorf("the trail has %d TagResource records, want 2", n)
	}
	if n := countEvents(t, h.trailPath, "CreateKey", k.Arn); n != 1 {
		t.Errorf("the trail has %d CreateKey records, want 1", n)
	}
}

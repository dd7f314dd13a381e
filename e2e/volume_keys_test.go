package e2e

import (
	"bytes"
	"crypto/rand"
	"os"
	"strings"
	"testing"
)

// TestKeyStatesAtAttach: the CMK's state and policy are checked when a
// volume is attached (Decrypt of its data key), not while it is attached;
// and the audit trail shows the KMS calls EC2 made for the volume.
func TestKeyStatesAtAttach(t *testing.T) {
	needVolumes(t)
	e := startVolumeDaemon(t)
	keyID := newKey(t, e.d, "alias/attach-states")
	keyArn := str(t, e.d.ok("kms", "describe-key", "--key-id", keyID), "KeyMetadata", "Arn")
	vol := e.createVolume("--size", "1", "--encrypted", "--kms-key-id", "alias/attach-states")
	if got := volumeKey(t, e, vol); got != keyArn {
		t.Fatalf("KmsKeyId %q, want %q", got, keyArn)
	}
	file := e.attach(vol)
	roundTrip(t, file, 0)
	if grants, _ := field(t, e.d.ok("kms", "list-grants", "--key-id", keyID), "Grants").([]any); len(grants) != 1 {
		t.Fatalf("grants on the key of an attached volume: %v, want the attach grant", grants)
	}

	// Disabled while attached: the data key is in memory, I/O goes on.
	e.d.ok("kms", "disable-key", "--key-id", keyID)
	roundTrip(t, file, 123<<20)
	e.detach(vol)
	r := e.d.fails("DisabledException", "ec2", "attach-volume", "--volume-id", vol)
	if !strings.Contains(strings.ToLower(r.stderr), "disabled") || !strings.Contains(r.stderr, "AttachVolume") {
		t.Fatalf("attach under a disabled key: %s", r.stderr)
	}
	e.notAttached(vol)
	e.d.ok("kms", "enable-key", "--key-id", keyID)
	file = e.attach(vol)
	roundTrip(t, file, 7<<20)
	e.detach(vol)

	// A policy that denies kms:Decrypt to the account root. It must still
	// allow PutKeyPolicy (the lockout safety check), hence kms:* first.
	orig := str(t, e.d.ok("kms", "get-key-policy", "--key-id", keyID, "--policy-name", "default"), "Policy")
	deny := `{"Version":"2012-10-17","Statement":[
	  {"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"kms:*","Resource":"*"},
	  {"Sid":"No decrypt","Effect":"Deny","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"kms:Decrypt","Resource":"*"}]}`
	e.d.ok("kms", "put-key-policy", "--key-id", keyID, "--policy-name", "default", "--policy", "file://"+writeFile(t, "deny.json", []byte(deny)))
	r = e.d.fails("AccessDeniedException", "ec2", "attach-volume", "--volume-id", vol)
	if !strings.Contains(r.stderr, "kms:Decrypt") {
		t.Fatalf("denied attach does not name kms:Decrypt: %s", r.stderr)
	}
	e.notAttached(vol)
	e.d.ok("kms", "put-key-policy", "--key-id", keyID, "--policy-name", "default", "--policy", "file://"+writeFile(t, "orig.json", []byte(orig)))
	file = e.attach(vol)
	roundTrip(t, file, 0) // the first write is still there: checked inside

	// Attached at a stop, disabled meanwhile: not attached again at the
	// start (the Decrypt fails), but attachable once the key is enabled.
	e.d.ok("kms", "disable-key", "--key-id", keyID)
	e.d.restart()
	e.notAttached(vol)
	e.d.ok("kms", "enable-key", "--key-id", keyID)
	roundTrip(t, e.attach(vol), 0)
	e.detach(vol)
	// Every attach grant was retired at detach or when its attach failed.
	if grants, _ := field(t, e.d.ok("kms", "list-grants", "--key-id", keyID), "Grants").([]any); len(grants) != 0 {
		t.Errorf("%d grants left on the key after the last detach: %v", len(grants), grants)
	}

	// The audit trail: the data key made at create ...
	gen := auditEvents(t, e, "GenerateDataKeyWithoutPlaintext", vol)
	if len(gen) != 1 {
		t.Fatalf("%d GenerateDataKeyWithoutPlaintext events for %s, want 1", len(gen), vol)
	}
	g := gen[0]
	if n, _ := field(t, g, "requestParameters", "numberOfBytes").(float64); n != 64 {
		t.Fatalf("GenerateDataKeyWithoutPlaintext numberOfBytes = %v, want 64", field(t, g, "requestParameters"))
	}
	if ec, _ := field(t, g, "requestParameters", "encryptionContext").(map[string]any); len(ec) != 1 || ec["aws:ebs:id"] != vol {
		t.Fatalf("GenerateDataKeyWithoutPlaintext encryptionContext = %v", ec)
	}
	checkEC2Event(t, g, keyArn, "")
	// ... and at each of the 7 attaches (the sixth by the daemon at its
	// start) a grant, then a Decrypt unless the grant failed: the key was
	// disabled at the second and the sixth, the policy denied Decrypt at
	// the fourth.
	outcomes := func(name string) map[string]int {
		codes := map[string]int{}
		for _, ev := range auditEvents(t, e, name, vol) {
			codes[str(t, ev, "errorCode")]++
			checkEC2Event(t, ev, keyArn, str(t, ev, "errorCode"))
		}
		return codes
	}
	if got := outcomes("CreateGrant"); len(got) != 2 || got[""] != 5 || got["DisabledException"] != 2 {
		t.Errorf("CreateGrant outcomes for %s: %v, want 5 allowed and 2 DisabledException", vol, got)
	}
	if got := outcomes("Decrypt"); len(got) != 2 || got[""] != 4 || got["AccessDeniedException"] != 1 {
		t.Errorf("Decrypt outcomes for %s: %v, want 4 allowed and 1 AccessDeniedException", vol, got)
	}
}

// volumeKey is a volume's KmsKeyId.
func volumeKey(t *testing.T, e *volEnv, id string) string {
	t.Helper()
	vols := field(t, e.d.ok("ec2", "describe-volumes", "--volume-ids", id), "Volumes").([]any)
	k, _ := vols[0].(map[string]any)["KmsKeyId"].(string)
	return k
}

// notAttached checks that a volume whose attach failed is available and
// has no file.
func (e *volEnv) notAttached(id string) {
	e.t.Helper()
	if st, att := e.volumeState(id); st != "available" || len(att) != 0 {
		e.t.Fatalf("after a failed attach %s is %s with %v", id, st, att)
	}
	if _, err := os.Stat(e.file(id)); !os.IsNotExist(err) {
		e.t.Fatalf("after a failed attach the file of %s: %v", id, err)
	}
}

// roundTrip writes a random 8 KiB at off (and a fixed marker at 0 the
// first time), syncs, and reads both back through the volume's file.
func roundTrip(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer f.Close()
	marker := []byte("roundTrip marker: written once, at offset 0, read at every attach")
	got := make([]byte, len(marker))
	if _, err := f.ReadAt(got, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, marker) {
		if !bytes.Equal(got, make([]byte, len(marker))) {
			t.Fatalf("offset 0 holds %q, want the marker or zeros", got)
		}
		if _, err := f.WriteAt(marker, 0); err != nil {
			t.Fatalf("write marker: %v", err)
		}
	}
	data := make([]byte, 8<<10)
	rand.Read(data)
	if off != 0 {
		if _, err := f.WriteAt(data, off); err != nil {
			t.Fatalf("write at %d: %v", off, err)
		}
	}
	if err := f.Sync(); err != nil {
		t.Fatalf("fsync: %v", err)
	}
	if off != 0 {
		back := make([]byte, len(data))
		if _, err := f.ReadAt(back, off); err != nil || !bytes.Equal(back, data) {
			t.Fatalf("read back at %d: %v (equal %v)", off, err, bytes.Equal(back, data))
		}
	}
	if _, err := f.ReadAt(got, 0); err != nil || !bytes.Equal(got, marker) {
		t.Fatalf("marker read back: %q %v", got, err)
	}
}

// auditEvents returns the CloudTrail records of an operation on a volume
// (by its encryption context), oldest first.
func auditEvents(t *testing.T, e *volEnv, name, vol string) []map[string]any {
	t.Helper()
	out := e.d.ok("cloudtrail", "lookup-events", "--event-name", name, "--max-results", "50")
	events, _ := field(t, out, "Events").([]any)
	var recs []map[string]any
	for i := len(events) - 1; i >= 0; i-- {
		ev := events[i].(map[string]any)
		rec := decodeJSON(t, ev["CloudTrailEvent"].(string))
		if str(t, rec, "eventName") != name || !mentionsVolume(rec, vol) {
			continue
		}
		res, _ := rec["resources"].([]any)
		found := false
		for _, r := range ev["Resources"].([]any) {
			found = found || len(res) > 0 && r.(map[string]any)["ResourceName"] == res[0].(map[string]any)["ARN"]
		}
		if !found {
			t.Fatalf("%s event: LookupEvents Resources %v do not match the record's resources %v", name, ev["Resources"], rec["resources"])
		}
		recs = append(recs, rec)
	}
	return recs
}

// mentionsVolume reports whether a record's encryption context (or a
// grant's constraint) names the volume.
func mentionsVolume(rec map[string]any, vol string) bool {
	p, _ := rec["requestParameters"].(map[string]any)
	if ec, ok := p["encryptionContext"].(map[string]any); ok && ec["aws:ebs:id"] == vol {
		return true
	}
	c, _ := p["constraints"].(map[string]any)
	ec, _ := c["encryptionContextSubset"].(map[string]any)
	return ec["aws:ebs:id"] == vol
}

// checkEC2Event checks a KMS record made by EC2 for the volume: invoked by
// ec2.amazonaws.com, about the key ARN, with the expected outcome.
func checkEC2Event(t *testing.T, rec map[string]any, keyArn, errorCode string) {
	t.Helper()
	name := str(t, rec, "eventName")
	if got := str(t, rec, "userIdentity", "invokedBy"); got != "ec2.amazonaws.com" {
		t.Errorf("%s: userIdentity.invokedBy %q, want ec2.amazonaws.com (%v)", name, got, rec["userIdentity"])
	}
	res, _ := rec["resources"].([]any)
	if len(res) == 0 || res[0].(map[string]any)["ARN"] != keyArn {
		t.Errorf("%s: resources %v, want the key ARN %s", name, res, keyArn)
	}
	if got := str(t, rec, "errorCode"); got != errorCode {
		t.Errorf("%s: errorCode %q, want %q", name, got, errorCode)
	}
}

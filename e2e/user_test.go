package e2e

import (
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

const testUser = "ebs-e2e-user"

// unixUser makes (once) a real second unix user and returns its credentials,
// or skips the test with the reason when that is impossible.
func unixUser(t *testing.T) *syscall.Credential {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("SKIP: a second unix user needs root to create it and to run as it")
	}
	u, err := user.Lookup(testUser)
	if err != nil {
		out, err := exec.Command("useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", testUser).CombinedOutput()
		if err != nil {
			t.Skipf("SKIP: useradd %s failed: %v %s", testUser, err, out)
		}
		if u, err = user.Lookup(testUser); err != nil {
			t.Skipf("SKIP: user %s not found after useradd: %v", testUser, err)
		}
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{uint32(gid)}}
}

// TestPolicyDeniesDecryptToUser runs the CLI as a real second unix user: the
// key policy lets the account (root delegation) use the key but denies
// kms:Decrypt to that user. The denial is an AccessDeniedException and is in
// the audit trail with the user's principal.
func TestPolicyDeniesDecryptToUser(t *testing.T) {
	cred := unixUser(t)
	sockDir := sharedDir(t)
	d := startDaemon(t, t.TempDir(), "--socket", filepath.Join(sockDir, "ebs.sock"), "--socket-group", testUser)

	userArn := "arn:aws:iam::000000000000:user/" + testUser
	policy := `{"Version":"2012-10-17","Statement":[
	  {"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"kms:*","Resource":"*"},
	  {"Sid":"No decrypt for the e2e user","Effect":"Deny","Principal":{"AWS":"` + userArn + `"},"Action":"kms:Decrypt","Resource":"*"}]}`
	id := str(t, d.ok("kms", "create-key", "--policy", "file://"+writeFile(t, "policy.json", []byte(policy))), "KeyMetadata", "KeyId")

	// The user may encrypt (the root principal admits the whole account) ...
	plain := filepath.Join(sockDir, "p")
	os.WriteFile(plain, []byte("user data"), 0o644)
	r := d.ebsAs(cred, "kms", "encrypt", "--key-id", id, "--plaintext", "fileb://"+plain, "--query", "CiphertextBlob", "--output", "text")
	if r.code != 0 {
		t.Fatalf("encrypt as %s: exit %d %s", testUser, r.code, r.stderr)
	}
	blob := filepath.Join(sockDir, "c.b64")
	os.WriteFile(blob, []byte(strings.TrimSpace(r.stdout)), 0o644)
	// ... but not decrypt; root still can.
	r = d.failsAs(cred, "AccessDeniedException", "kms", "decrypt", "--ciphertext-blob", "file://"+blob)
	if !strings.Contains(r.stderr, userArn) || !strings.Contains(r.stderr, "kms:Decrypt") {
		t.Fatalf("denial does not name the principal and action: %s", r.stderr)
	}
	if got := d.ok("kms", "decrypt", "--ciphertext-blob", "file://"+blob); str(t, got, "Plaintext") == "" {
		t.Fatal("root cannot decrypt")
	}

	ev := d.ok("cloudtrail", "lookup-events", "--event-name", "Decrypt", "--max-results", "5")
	events := field(t, ev, "Events").([]any)
	if len(events) != 2 {
		t.Fatalf("%d Decrypt events, want 2", len(events))
	}
	denied := decodeJSON(t, events[1].(map[string]any)["CloudTrailEvent"].(string)) // older of the two
	if str(t, denied, "errorCode") != "AccessDeniedException" || str(t, denied, "userIdentity", "arn") != userArn ||
		str(t, denied, "userIdentity", "type") != "IAMUser" || events[1].(map[string]any)["Username"] != testUser {
		t.Fatalf("denied Decrypt event = %v", denied)
	}
	allowed := decodeJSON(t, events[0].(map[string]any)["CloudTrailEvent"].(string))
	if _, failed := allowed["errorCode"]; failed || str(t, allowed, "userIdentity", "type") != "Root" {
		t.Fatalf("root's Decrypt event = %v", allowed)
	}
}

// sharedDir is a temporary directory that a second unix user can read
// (t.TempDir's parent is private to the test's user).
func sharedDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ebs-e2e-shared-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

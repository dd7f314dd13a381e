package e2e

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestSecondDaemonOnSameDirFails(t *testing.T) {
	dir := t.TempDir()
	startDaemon(t, dir)
	cmd := exec.Command(ebsBin, "serve", "--data-dir", dir)
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("a second daemon on the same data dir did not fail at once")
	}
	if err == nil || !strings.Contains(string(out), "in use by another ebs daemon") {
		t.Fatalf("second daemon: err %v, output %s", err, out)
	}
}

func TestShutdownOnSignals(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		d := startDaemon(t, t.TempDir())
		fi, err := os.Stat(d.socket)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("socket mode: %v %v", fi.Mode(), err)
		}
		d.signal(sig) // requires exit status 0
		if _, err := os.Stat(d.socket); !os.IsNotExist(err) {
			t.Fatalf("socket left behind after %v", sig)
		}
	}
}

func TestBadInputNeverCrashes(t *testing.T) {
	d := startDaemon(t, t.TempDir())
	post := func(path string, body []byte) (int, string) {
		t.Helper()
		resp, err := d.http().Post("http://ebs"+path, "application/x-amz-json-1.1", bytes.NewReader(body))
		if err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	cases := []struct {
		path, body string
		status     int
		code       string
	}{
		{"/kms/CreateKey", `{not json`, 400, "SerializationException"},
		{"/kms/CreateKey", `{"Description": 5}`, 400, "SerializationException"},
		{"/kms/GenerateDataKey", `{"KeyId": "alias/x", "NumberOfBytes": "many"}`, 400, "SerializationException"},
		{"/kms/Decrypt", `{"CiphertextBlob": "not base64!"}`, 400, "SerializationException"},
		{"/kms/Decrypt", `{"CiphertextBlob": "` + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 80)) + `"}`, 400, "InvalidCiphertextException"},
		// A well-formed blob that names a key that does not exist, as AWS answers it.
		{"/kms/Decrypt", `{"CiphertextBlob": "` + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 80)) + `"}`, 400, "AccessDeniedException"},
		{"/kms/Decrypt", `{}`, 400, "ValidationException"},
		{"/kms/DescribeKey", `{"KeyId": ""}`, 400, "ValidationException"},
		{"/kms/DescribeKey", `{"KeyId": "arn:aws:kms:bad"}`, 400, "InvalidArnException"},
		{"/kms/FlyToTheMoon", `{}`, 400, "UnknownOperationException"},
		{"/nosuchservice/CreateKey", `{}`, 400, "UnknownOperationException"},
		{"/kms/CreateKey", `[1,2,3]`, 400, "SerializationException"},
		{"/kms/CreateKey", `{"Policy": "{\"Statement\": 7}"}`, 400, "MalformedPolicyDocumentException"},
		{"/kms/CreateKey", `{"Description": "` + strings.Repeat("x", 300<<10) + `"}`, 413, "ValidationException"},
		{"/cloudtrail/LookupEvents", `{"MaxResults": 500}`, 400, "InvalidLookupAttributesException"},
		{"/cloudtrail/LookupEvents", `{"NextToken": "garbage"}`, 400, "InvalidNextTokenException"},
	}
	for _, c := range cases {
		status, body := post(c.path, []byte(c.body))
		if status != c.status || !strings.Contains(body, `"__type":"`+c.code+`"`) {
			t.Errorf("POST %s %.60s: %d %s; want %d %s", c.path, c.body, status, body, c.status, c.code)
		}
	}
	resp, err := d.http().Get("http://ebs/kms/CreateKey")
	if err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET on an operation: %v %v", resp.StatusCode, err)
	}
	// Still serving, and usage errors exit 252.
	newKey(t, d, "alias/after-abuse")
	for _, args := range [][]string{
		{"kms", "encrypt", "--plaintext", "fileb:///etc/hostname"},
		{"kms", "no-such-command"},
		{"kms", "encrypt", "--key-id", "k", "--plaintext", "fileb:///does/not/exist"},
		{"kms", "decrypt", "--ciphertext-blob", "%%% not base64"},
	} {
		if r := d.ebs(args...); r.code != 252 {
			t.Errorf("ebs %v: exit %d, want 252 (%s)", args, r.code, r.stderr)
		}
	}
}

// TestNoPlaintextKeyInDataDir searches every file of the data dir for the
// data keys and plaintexts the KMS handled: none may be there.
func TestNoPlaintextKeyInDataDir(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, dir)
	id := newKey(t, d, "alias/leak")
	var secrets [][]byte
	for i := 0; i < 5; i++ {
		out := d.ok("kms", "generate-data-key", "--key-id", id, "--number-of-bytes", "64", "--encryption-context", "canary-context=visible-context-value")
		dk, _ := base64.StdEncoding.DecodeString(str(t, out, "Plaintext"))
		secrets = append(secrets, dk, []byte(base64.StdEncoding.EncodeToString(dk)))
	}
	canary := "PLAINTEXT-CANARY-7f3a9c1e-never-on-disk"
	encrypt(t, d, id, canary)
	secrets = append(secrets, []byte(canary), []byte(base64.StdEncoding.EncodeToString([]byte(canary))))
	d.ok("kms", "rotate-key-on-demand", "--key-id", id)
	d.stop()

	hits := searchDir(t, dir, secrets)
	if len(hits) > 0 {
		t.Fatalf("secrets found in the data dir: %v", hits)
	}
	// Control: the search does see what is there (encryption contexts are
	// not secret and the audit trail keeps them).
	if len(searchDir(t, dir, [][]byte{[]byte("visible-context-value")})) == 0 {
		t.Fatal("control failed: the search cannot see the audit trail")
	}
}

func searchDir(t *testing.T, dir string, needles [][]byte) []string {
	t.Helper()
	var hits []string
	filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		for i, n := range needles {
			if bytes.Contains(data, n) {
				hits = append(hits, filepath.Base(path)+" has secret "+string(rune('0'+i%10)))
			}
		}
		return nil
	})
	return hits
}

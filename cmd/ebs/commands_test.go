package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeFixtures creates the files the command lines below refer to as @DIR@/...
func writeFixtures(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"secret.txt":  "hello\n",
		"policy.json": `{"Version":"2012-10-17"}`,
		"cipher.bin":  "\x01\x02\x03\x04",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestCommandRequests checks the exact request every command sends.
func TestCommandRequests(t *testing.T) {
	dir := writeFixtures(t)
	tests := []struct {
		args []string
		path string
		body string
	}{
		{[]string{"kms", "create-key", "--description", "app key", "--policy", "file://@DIR@/policy.json",
			"--key-usage", "ENCRYPT_DECRYPT", "--key-spec", "SYMMETRIC_DEFAULT", "--origin", "AWS_KMS",
			"--bypass-policy-lockout-safety-check", "--tags", "TagKey=team,TagValue=storage",
			"--tags", `[{"TagKey":"env","TagValue":"prod"}]`},
			"/kms/CreateKey",
			`{"Description":"app key","Policy":"{\"Version\":\"2012-10-17\"}","KeyUsage":"ENCRYPT_DECRYPT",` +
				`"KeySpec":"SYMMETRIC_DEFAULT","Origin":"AWS_KMS","BypassPolicyLockoutSafetyCheck":true,` +
				`"Tags":[{"TagKey":"team","TagValue":"storage"},{"TagKey":"env","TagValue":"prod"}]}`},
		{[]string{"kms", "create-key"}, "/kms/CreateKey", `{}`},
		{[]string{"kms", "create-key", "--no-bypass-policy-lockout-safety-check"}, "/kms/CreateKey",
			`{"BypassPolicyLockoutSafetyCheck":false}`},
		{[]string{"kms", "describe-key", "--key-id", "alias/app"}, "/kms/DescribeKey", `{"KeyId":"alias/app"}`},
		{[]string{"kms", "list-keys", "--limit", "10", "--marker", "m1"}, "/kms/ListKeys", `{"Limit":10,"Marker":"m1"}`},
		{[]string{"kms", "list-keys"}, "/kms/ListKeys", `{}`},
		{[]string{"kms", "enable-key", "--key-id", "k"}, "/kms/EnableKey", `{"KeyId":"k"}`},
		{[]string{"kms", "disable-key", "--key-id", "k"}, "/kms/DisableKey", `{"KeyId":"k"}`},
		{[]string{"kms", "schedule-key-deletion", "--key-id", "k", "--pending-window-in-days", "7"},
			"/kms/ScheduleKeyDeletion", `{"KeyId":"k","PendingWindowInDays":7}`},
		{[]string{"kms", "cancel-key-deletion", "--key-id", "k"}, "/kms/CancelKeyDeletion", `{"KeyId":"k"}`},
		{[]string{"kms", "update-key-description", "--key-id", "k", "--description", "new"},
			"/kms/UpdateKeyDescription", `{"KeyId":"k","Description":"new"}`},
		{[]string{"kms", "create-alias", "--alias-name", "alias/app", "--target-key-id", "k"},
			"/kms/CreateAlias", `{"AliasName":"alias/app","TargetKeyId":"k"}`},
		{[]string{"kms", "update-alias", "--alias-name", "alias/app", "--target-key-id", "k2"},
			"/kms/UpdateAlias", `{"AliasName":"alias/app","TargetKeyId":"k2"}`},
		{[]string{"kms", "delete-alias", "--alias-name", "alias/app"}, "/kms/DeleteAlias", `{"AliasName":"alias/app"}`},
		{[]string{"kms", "list-aliases", "--key-id", "k", "--limit", "5", "--marker", "m"},
			"/kms/ListAliases", `{"KeyId":"k","Limit":5,"Marker":"m"}`},
		{[]string{"kms", "encrypt", "--key-id", "alias/app", "--plaintext", "fileb://@DIR@/secret.txt",
			"--encryption-context", "app=web,env=prod", "--grant-tokens", "t1,t2", "--encryption-algorithm", "SYMMETRIC_DEFAULT"},
			"/kms/Encrypt", `{"KeyId":"alias/app","Plaintext":"aGVsbG8K","EncryptionContext":{"app":"web","env":"prod"},` +
				`"GrantTokens":["t1","t2"],"EncryptionAlgorithm":"SYMMETRIC_DEFAULT"}`},
		{[]string{"kms", "encrypt", "--key-id", "k", "--plaintext", "aGVsbG8K"}, "/kms/Encrypt",
			`{"KeyId":"k","Plaintext":"aGVsbG8K"}`},
		{[]string{"--cli-binary-format", "raw-in-base64-out", "kms", "encrypt", "--key-id", "k", "--plaintext", "hello"},
			"/kms/Encrypt", `{"KeyId":"k","Plaintext":"aGVsbG8="}`},
		{[]string{"kms", "decrypt", "--ciphertext-blob", "AQIDBA==", "--key-id", "k",
			"--encryption-context", `{"app":"web"}`, "--grant-tokens", `["t1"]`, "--encryption-algorithm", "SYMMETRIC_DEFAULT"},
			"/kms/Decrypt", `{"CiphertextBlob":"AQIDBA==","KeyId":"k","EncryptionContext":{"app":"web"},` +
				`"GrantTokens":["t1"],"EncryptionAlgorithm":"SYMMETRIC_DEFAULT"}`},
		{[]string{"kms", "re-encrypt", "--ciphertext-blob", "fileb://@DIR@/cipher.bin", "--source-encryption-context", "a=b",
			"--source-key-id", "s", "--destination-key-id", "d", "--destination-encryption-context", "c=d", "--grant-tokens", "t"},
			"/kms/ReEncrypt", `{"CiphertextBlob":"AQIDBA==","SourceEncryptionContext":{"a":"b"},"SourceKeyId":"s",` +
				`"DestinationKeyId":"d","DestinationEncryptionContext":{"c":"d"},"GrantTokens":["t"]}`},
		{[]string{"kms", "generate-data-key", "--key-id", "k", "--key-spec", "AES_256",
			"--encryption-context", "aws:ebs:id=vol-0123456789abcdef0", "--grant-tokens", "t"},
			"/kms/GenerateDataKey", `{"KeyId":"k","KeySpec":"AES_256","EncryptionContext":{"aws:ebs:id":"vol-0123456789abcdef0"},"GrantTokens":["t"]}`},
		{[]string{"kms", "generate-data-key-without-plaintext", "--key-id", "k", "--number-of-bytes", "64"},
			"/kms/GenerateDataKeyWithoutPlaintext", `{"KeyId":"k","NumberOfBytes":64}`},
		{[]string{"kms", "generate-random", "--number-of-bytes", "32"}, "/kms/GenerateRandom", `{"NumberOfBytes":32}`},
		{[]string{"kms", "enable-key-rotation", "--key-id", "k", "--rotation-period-in-days", "90"},
			"/kms/EnableKeyRotation", `{"KeyId":"k","RotationPeriodInDays":90}`},
		{[]string{"kms", "disable-key-rotation", "--key-id", "k"}, "/kms/DisableKeyRotation", `{"KeyId":"k"}`},
		{[]string{"kms", "get-key-rotation-status", "--key-id", "k"}, "/kms/GetKeyRotationStatus", `{"KeyId":"k"}`},
		{[]string{"kms", "rotate-key-on-demand", "--key-id", "k"}, "/kms/RotateKeyOnDemand", `{"KeyId":"k"}`},
		{[]string{"kms", "list-key-rotations", "--key-id", "k", "--include-key-material", "ALL_KEY_MATERIAL", "--limit", "2", "--marker", "m"},
			"/kms/ListKeyRotations", `{"KeyId":"k","IncludeKeyMaterial":"ALL_KEY_MATERIAL","Limit":2,"Marker":"m"}`},
		{[]string{"kms", "get-key-policy", "--key-id", "k", "--policy-name", "default"},
			"/kms/GetKeyPolicy", `{"KeyId":"k","PolicyName":"default"}`},
		{[]string{"kms", "get-key-policy", "--key-id", "k"}, "/kms/GetKeyPolicy", `{"KeyId":"k"}`},
		{[]string{"kms", "put-key-policy", "--key-id", "k", "--policy-name", "default", "--policy", "file://@DIR@/policy.json",
			"--bypass-policy-lockout-safety-check"},
			"/kms/PutKeyPolicy", `{"KeyId":"k","PolicyName":"default","Policy":"{\"Version\":\"2012-10-17\"}","BypassPolicyLockoutSafetyCheck":true}`},
		{[]string{"kms", "list-key-policies", "--key-id", "k", "--limit", "1", "--marker", "m"},
			"/kms/ListKeyPolicies", `{"KeyId":"k","Limit":1,"Marker":"m"}`},
		{[]string{"kms", "create-grant", "--key-id", "k", "--grantee-principal", "p", "--retiring-principal", "r",
			"--operations", "Decrypt,Encrypt", "--operations", "GenerateDataKey",
			"--constraints", "EncryptionContextSubset={k1=v1,k2=v2}", "--grant-tokens", "t", "--name", "n"},
			"/kms/CreateGrant", `{"KeyId":"k","GranteePrincipal":"p","RetiringPrincipal":"r",` +
				`"Operations":["Decrypt","Encrypt","GenerateDataKey"],"Constraints":{"EncryptionContextSubset":{"k1":"v1","k2":"v2"}},` +
				`"GrantTokens":["t"],"Name":"n"}`},
		{[]string{"kms", "create-grant", "--key-id", "k", "--operations", `["Decrypt"]`,
			"--constraints", `{"EncryptionContextEquals":{"a":"b"}}`},
			"/kms/CreateGrant", `{"KeyId":"k","Operations":["Decrypt"],"Constraints":{"EncryptionContextEquals":{"a":"b"}}}`},
		{[]string{"kms", "list-grants", "--key-id", "k", "--grant-id", "g", "--grantee-principal", "p", "--limit", "1", "--marker", "m"},
			"/kms/ListGrants", `{"KeyId":"k","GrantId":"g","GranteePrincipal":"p","Limit":1,"Marker":"m"}`},
		{[]string{"kms", "retire-grant", "--grant-token", "t", "--key-id", "k", "--grant-id", "g"},
			"/kms/RetireGrant", `{"GrantToken":"t","KeyId":"k","GrantId":"g"}`},
		{[]string{"kms", "revoke-grant", "--key-id", "k", "--grant-id", "g"}, "/kms/RevokeGrant", `{"KeyId":"k","GrantId":"g"}`},
		{[]string{"kms", "tag-resource", "--key-id", "k", "--tags", "TagKey=a,TagValue=b"},
			"/kms/TagResource", `{"KeyId":"k","Tags":[{"TagKey":"a","TagValue":"b"}]}`},
		{[]string{"kms", "untag-resource", "--key-id", "k", "--tag-keys", "a,b", "--tag-keys", "c"},
			"/kms/UntagResource", `{"KeyId":"k","TagKeys":["a","b","c"]}`},
		{[]string{"kms", "list-resource-tags", "--key-id", "k", "--limit", "1", "--marker", "m"},
			"/kms/ListResourceTags", `{"KeyId":"k","Limit":1,"Marker":"m"}`},
		{[]string{"cloudtrail", "lookup-events", "--lookup-attributes", "AttributeKey=EventName,AttributeValue=Decrypt",
			"--resource-name", "k", "--username", "u", "--start-time", "2026-11-28", "--end-time", "2026-11-28T13:07:39.5Z",
			"--max-results", "5", "--next-token", "tok"},
			"/cloudtrail/LookupEvents", `{"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"Decrypt"},` +
				`{"AttributeKey":"ResourceName","AttributeValue":"k"},{"AttributeKey":"Username","AttributeValue":"u"}],` +
				`"StartTime":1795824000,"EndTime":1795871259.5,"MaxResults":5,"NextToken":"tok"}`},
		{[]string{"cloudtrail", "lookup-events", "--event-name", "Decrypt", "--start-time", "1795824000"},
			"/cloudtrail/LookupEvents", `{"StartTime":1795824000,"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"Decrypt"}]}`},
		{[]string{"cloudtrail", "lookup-events"}, "/cloudtrail/LookupEvents", `{}`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args[:2], " "), func(t *testing.T) {
			d := newFakeDaemon(t, 200, `{}`)
			res := runAgainst(t, d, expand(tt.args, dir)...)
			if res.code != exitOK || res.stdout != "" || res.stderr != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
			}
			got := d.only(t)
			if got.method != "POST" || got.path != tt.path || got.contentType != "application/json" {
				t.Errorf("request %s %s (%s), want POST %s", got.method, got.path, got.contentType, tt.path)
			}
			if got.body != tt.body {
				t.Errorf("body\n got %s\nwant %s", got.body, tt.body)
			}
		})
	}
}

// TestCommandOutput checks what the CLI prints for canned responses.
func TestCommandOutput(t *testing.T) {
	tests := []struct {
		name     string
		response string
		args     []string
		want     string
	}{
		{"describe-key keeps order and converts timestamps",
			`{"KeyMetadata":{"KeyId":"1234","Enabled":true,"CreationDate":1795871259.123,"KeyState":"Enabled","EncryptionAlgorithms":["SYMMETRIC_DEFAULT"]}}`,
			[]string{"kms", "describe-key", "--key-id", "1234"},
			`{
    "KeyMetadata": {
        "KeyId": "1234",
        "Enabled": true,
        "CreationDate": "2026-11-28T13:07:39.123000+00:00",
        "KeyState": "Enabled",
        "EncryptionAlgorithms": [
            "SYMMETRIC_DEFAULT"
        ]
    }
}
`},
		{"encrypt query text", `{"CiphertextBlob":"AQIDBA==","KeyId":"arn:k","EncryptionAlgorithm":"SYMMETRIC_DEFAULT"}`,
			[]string{"kms", "encrypt", "--key-id", "k", "--plaintext", "aGk=", "--query", "CiphertextBlob", "--output", "text"},
			"AQIDBA==\n"},
		{"get-key-policy keeps the policy a string", `{"Policy":"{\n  \"Version\" : \"2012-10-17\"\n}","PolicyName":"default"}`,
			[]string{"kms", "get-key-policy", "--key-id", "k"},
			"{\n    \"Policy\": \"{\\n  \\\"Version\\\" : \\\"2012-10-17\\\"\\n}\",\n    \"PolicyName\": \"default\"\n}\n"},
		{"empty response prints nothing", `{}`, []string{"kms", "enable-key", "--key-id", "k"}, ""},
		{"empty body prints nothing", ``, []string{"kms", "enable-key", "--key-id", "k"}, ""},
		{"schedule-key-deletion", `{"KeyId":"arn:k","DeletionDate":1796476059,"KeyState":"PendingDeletion","PendingWindowInDays":7}`,
			[]string{"kms", "schedule-key-deletion", "--key-id", "k", "--pending-window-in-days", "7"},
			`{
    "KeyId": "arn:k",
    "DeletionDate": "2026-12-05T13:07:39+00:00",
    "KeyState": "PendingDeletion",
    "PendingWindowInDays": 7
}
`},
		{"lookup-events text", `{"Events":[{"EventId":"e1","EventName":"Decrypt","EventTime":1795871259,"Username":"root",` +
			`"Resources":[{"ResourceType":"AWS::KMS::Key","ResourceName":"arn:k"}],"CloudTrailEvent":"{}"}]}`,
			[]string{"cloudtrail", "lookup-events", "--event-name", "Decrypt", "--output", "text"},
			"EVENTS\t{}\te1\tDecrypt\t2026-11-28T13:07:39+00:00\troot\nRESOURCES\tarn:k\tAWS::KMS::Key\n"},
		{"list-keys query keeps order", `{"Keys":[{"KeyId":"a","KeyArn":"arn:a"},{"KeyId":"b","KeyArn":"arn:b"}],"Truncated":false}`,
			[]string{"kms", "list-keys", "--query", "Keys[0]"},
			"{\n    \"KeyId\": \"a\",\n    \"KeyArn\": \"arn:a\"\n}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newFakeDaemon(t, 200, tt.response)
			res := runAgainst(t, d, tt.args...)
			if res.code != exitOK || res.stderr != "" {
				t.Fatalf("exit %d, stderr %q", res.code, res.stderr)
			}
			if res.stdout != tt.want {
				t.Errorf("stdout\n got %q\nwant %q", res.stdout, tt.want)
			}
		})
	}
}

func TestServiceErrors(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"not found", 400, `{"__type":"NotFoundException","message":"Key 'arn:aws:kms:local:000000000000:key/1234' does not exist"}`,
			"An error occurred (NotFoundException) when calling the DescribeKey operation: Key 'arn:aws:kms:local:000000000000:key/1234' does not exist\n"},
		{"empty message", 400, `{"__type":"InvalidCiphertextException"}`,
			"An error occurred (InvalidCiphertextException) when calling the DescribeKey operation: \n"},
		{"namespaced type and Message", 400, `{"__type":"com.amazonaws.kms#AccessDeniedException:http://internal","Message":"denied"}`,
			"An error occurred (AccessDeniedException) when calling the DescribeKey operation: denied\n"},
		{"not JSON", 500, "boom", "An error occurred (500) when calling the DescribeKey operation: boom\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newFakeDaemon(t, tt.status, tt.body)
			res := runAgainst(t, d, "kms", "describe-key", "--key-id", "1234")
			if res.code != exitServiceError || res.stdout != "" || res.stderr != tt.want {
				t.Errorf("exit %d, stdout %q, stderr %q; want 254 and %q", res.code, res.stdout, res.stderr, tt.want)
			}
		})
	}
}

func TestUsageErrorsSendNothing(t *testing.T) {
	dir := writeFixtures(t)
	tests := [][]string{
		{"kms", "describe-key"},
		{"kms", "encrypt", "--key-id", "k"},
		{"kms", "encrypt", "--key-id", "k", "--plaintext", "not base64!"},
		{"kms", "encrypt", "--key-id", "k", "--plaintext", "fileb://@DIR@/missing"},
		{"kms", "put-key-policy", "--key-id", "k", "--policy", "file://@DIR@/missing.json"},
		{"kms", "encrypt", "--key-id", "k", "--plaintext", "aGk=", "--encryption-context", "novalue"},
		{"kms", "encrypt", "--key-id", "k", "--plaintext", "aGk=", "--encryption-context", `{"a":1}`},
		{"kms", "tag-resource", "--key-id", "k", "--tags", "Key=a,Value=b"},
		{"kms", "create-grant", "--key-id", "k", "--operations", "Decrypt", "--constraints", "Foo={a=b}"},
		{"kms", "generate-random", "--number-of-bytes", "many"},
		{"kms", "list-keys", "--bogus"},
		{"kms", "list-keys", "extra"},
		{"kms", "no-such-command"},
		{"nosuchgroup"},
		{"--output", "yaml", "kms", "list-keys"},
		{"--query", "[", "kms", "list-keys"},
		{"cloudtrail", "lookup-events", "--start-time", "yesterday"},
		{"kms", "create-key", "--bypass-policy-lockout-safety-check", "--no-bypass-policy-lockout-safety-check"},
	}
	for _, args := range tests {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			d := newFakeDaemon(t, 200, `{}`)
			res := runAgainst(t, d, expand(args, dir)...)
			if res.code != exitUsage || !strings.HasPrefix(res.stderr, "ebs: error: ") {
				t.Errorf("exit %d, stderr %q; want 252 and a usage error", res.code, res.stderr)
			}
			d.mu.Lock()
			defer d.mu.Unlock()
			if len(d.requests) != 0 {
				t.Errorf("a usage error sent %d requests", len(d.requests))
			}
		})
	}
}

func TestCannotConnect(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "none.sock")
	res := runCLI(t, nil, "--socket", socket, "kms", "list-keys")
	want := `Could not connect to the endpoint URL: "unix://` + socket + `"`
	if res.code != exitFailure || !strings.HasPrefix(res.stderr, want) || !strings.Contains(res.stderr, "may not be running") {
		t.Errorf("exit %d, stderr %q; want 255 and %s", res.code, res.stderr, want)
	}
}

func TestSocketFromEnvironment(t *testing.T) {
	d := newFakeDaemon(t, 200, `{"Keys":[]}`)
	res := runCLI(t, map[string]string{"EBS_SOCKET": d.socket}, "kms", "list-keys")
	if res.code != exitOK || d.only(t).path != "/kms/ListKeys" {
		t.Errorf("exit %d, stderr %q", res.code, res.stderr)
	}
	// --socket wins over the environment.
	res = runCLI(t, map[string]string{"EBS_SOCKET": "/nonexistent/ebs.sock"}, "--socket", d.socket, "kms", "list-keys")
	if res.code != exitOK {
		t.Errorf("exit %d, stderr %q", res.code, res.stderr)
	}
}

func TestDebugLogsTheExchange(t *testing.T) {
	d := newFakeDaemon(t, 200, `{"Keys":[]}`)
	res := runAgainst(t, d, "--debug", "kms", "list-keys", "--limit", "3")
	if res.code != exitOK {
		t.Fatalf("exit %d, stderr %q", res.code, res.stderr)
	}
	for _, want := range []string{"path=/kms/ListKeys", `body="{\"Limit\":3}"`, "status=200"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("debug log lacks %s:\n%s", want, res.stderr)
		}
	}
}

func TestHelpAndVersion(t *testing.T) {
	res := runCLI(t, nil, "kms", "encrypt", "--help")
	for _, want := range []string{"--key-id", "--plaintext", "fileb://", "Examples:", "ebs kms encrypt --key-id alias/app"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("help lacks %q:\n%s", want, res.stdout)
		}
	}
	if res := runCLI(t, nil, "--version"); res.code != exitOK || !strings.HasPrefix(res.stdout, "ebs version ") {
		t.Errorf("--version: exit %d, stdout %q", res.code, res.stdout)
	}
	if res := runCLI(t, nil, "kms"); res.code != exitOK || !strings.Contains(res.stdout, "generate-data-key-without-plaintext") {
		t.Errorf("ebs kms: exit %d, stdout %q", res.code, res.stdout)
	}
}

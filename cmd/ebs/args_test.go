package main

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// compact is the JSON the request would carry for v.
func compact(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseParam(t *testing.T) {
	dir := writeFixtures(t)
	tests := []struct {
		name string
		kind paramKind
		raw  []string
		keys []string
		want string
	}{
		{"string", kindString, []string{"hello"}, nil, `"hello"`},
		{"string last wins", kindString, []string{"a", "b"}, nil, `"b"`},
		{"string from file", kindString, []string{"file://@DIR@/policy.json"}, nil, `"{\"Version\":\"2012-10-17\"}"`},
		{"blob fileb", kindBlob, []string{"fileb://@DIR@/secret.txt"}, nil, `"aGVsbG8K"`},
		{"blob base64", kindBlob, []string{"AQIDBA=="}, nil, `"AQIDBA=="`},
		{"blob base64 unpadded", kindBlob, []string{"AQIDBA"}, nil, `"AQIDBA=="`},
		{"blob base64 wrapped", kindBlob, []string{"AQID\nBA==\n"}, nil, `"AQIDBA=="`},
		{"blob base64 from file", kindBlob, []string{"file://@DIR@/secret.txt"}, nil, ``}, // "hello\n" is not base64
		{"int", kindInt, []string{" 64 "}, nil, `64`},
		{"list commas", kindList, []string{"Decrypt, Encrypt", "GenerateDataKey"}, nil, `["Decrypt","Encrypt","GenerateDataKey"]`},
		{"list JSON", kindList, []string{`["a,b","c"]`}, nil, `["a,b","c"]`},
		{"map shorthand", kindMap, []string{"k1=v1,k2=v2"}, nil, `{"k1":"v1","k2":"v2"}`},
		{"map shorthand keeps order", kindMap, []string{"z=1,a=2"}, nil, `{"z":"1","a":"2"}`},
		{"map colon keys and base64 values", kindMap, []string{"aws:ebs:id=vol-1,b64=dGVzdA=="}, nil,
			`{"aws:ebs:id":"vol-1","b64":"dGVzdA=="}`},
		{"map quoted values", kindMap, []string{`a="x,y",b='p q'`}, nil, `{"a":"x,y","b":"p q"}`},
		{"map JSON", kindMap, []string{` {"k1": "v1"}`}, nil, `{"k1":"v1"}`},
		{"map empty value", kindMap, []string{"k="}, nil, `{"k":""}`},
		{"struct nested", kindStruct, []string{"EncryptionContextSubset={k1=v1,k2=v2}"},
			[]string{"EncryptionContextSubset", "EncryptionContextEquals"}, `{"EncryptionContextSubset":{"k1":"v1","k2":"v2"}}`},
		{"struct JSON", kindStruct, []string{`{"EncryptionContextEquals":{"a":"b"}}`},
			[]string{"EncryptionContextSubset", "EncryptionContextEquals"}, `{"EncryptionContextEquals":{"a":"b"}}`},
		{"struct list and implicit list", kindStruct, []string{"A=[x,y],B=p,q"}, nil, `{"A":["x","y"],"B":["p","q"]}`},
		{"tags repeated", kindStructList, []string{"TagKey=a,TagValue=b", "TagKey=c,TagValue=d"}, []string{"TagKey", "TagValue"},
			`[{"TagKey":"a","TagValue":"b"},{"TagKey":"c","TagValue":"d"}]`},
		{"tags JSON", kindStructList, []string{`[{"TagKey":"a","TagValue":"b"}]`}, []string{"TagKey", "TagValue"},
			`[{"TagKey":"a","TagValue":"b"}]`},
		{"time date", kindTime, []string{"2026-11-28"}, nil, `1795824000`},
		{"time RFC 3339", kindTime, []string{"2026-11-28T13:07:39+01:00"}, nil, `1795867659`},
		{"time fraction", kindTime, []string{"2026-11-28T13:07:39.25Z"}, nil, `1795871259.25`},
		{"time naive is UTC", kindTime, []string{"2026-11-28T13:07:39"}, nil, `1795871259`},
		{"time epoch", kindTime, []string{"1795871259.5"}, nil, `1795871259.5`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseParam(tt.kind, expand(tt.raw, dir), tt.keys, binaryBase64)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("got %s, want an error", compact(t, got))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s := compact(t, got); s != tt.want {
				t.Errorf("got %s, want %s", s, tt.want)
			}
		})
	}
}

func TestParseParamErrors(t *testing.T) {
	dir := writeFixtures(t)
	tags := []string{"TagKey", "TagValue"}
	tests := []struct {
		name    string
		kind    paramKind
		raw     string
		keys    []string
		wantErr string
	}{
		{"bad base64", kindBlob, "not base64!", nil, "invalid base64"},
		{"missing fileb", kindBlob, "fileb://@DIR@/missing", nil, "unable to load paramfile fileb://"},
		{"missing file", kindString, "file://@DIR@/missing.json", nil, "unable to load paramfile file://"},
		{"bad int", kindInt, "7days", nil, "invalid integer"},
		{"map without =", kindMap, "novalue", nil, "expected '='"},
		{"map missing key", kindMap, "=v", nil, "expected a key"},
		{"map nested value", kindMap, "a={b=c}", nil, `value of "a" must be a string`},
		{"map JSON number", kindMap, `{"a":1}`, nil, `value of "a" must be a string`},
		{"map bad JSON", kindMap, `{"a":`, nil, "invalid JSON"},
		{"map duplicate key", kindMap, "a=1,a=2", nil, "given twice"},
		{"unterminated quote", kindMap, `a="x`, nil, "unterminated"},
		{"unclosed brace", kindStruct, "A={b=c", nil, "expected '}'"},
		{"unknown struct key", kindStruct, "Foo={a=b}", []string{"EncryptionContextSubset"}, `unknown parameter "Foo"`},
		{"tags with EC2 names", kindStructList, "Key=a,Value=b", tags, `unknown parameter "Key"`},
		{"tags JSON not objects", kindStructList, `["a"]`, tags, "list of objects"},
		{"list bad JSON", kindList, `["a",`, nil, "invalid JSON"},
		{"bad time", kindTime, "yesterday", nil, "invalid timestamp"},
		{"stray brace", kindMap, "a=b}", nil, "unexpected '}'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseParam(tt.kind, expand([]string{tt.raw}, dir), tt.keys, binaryBase64)
			if err == nil {
				t.Fatalf("got %s, want an error", compact(t, got))
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q lacks %q", err, tt.wantErr)
			}
		})
	}
}

func TestRawBinaryFormat(t *testing.T) {
	got, err := parseParam(kindBlob, []string{"hello"}, nil, binaryRaw)
	if err != nil || got != "aGVsbG8=" {
		t.Errorf("got %v, %v; want aGVsbG8=", got, err)
	}
}

func TestParamFileHome(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	if err := os.WriteFile(filepath.Join(home, "p.json"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := loadParamFile("file://~/p.json")
	if err != nil || got != "{}" {
		t.Errorf("got %q, %v", got, err)
	}
}

func TestCLINames(t *testing.T) {
	for aws, want := range map[string]string{
		"KeyId":                           "key-id",
		"GenerateDataKeyWithoutPlaintext": "generate-data-key-without-plaintext",
		"ReEncrypt":                       "re-encrypt",
		"BypassPolicyLockoutSafetyCheck":  "bypass-policy-lockout-safety-check",
		"ModifyEbsDefaultKmsKeyId":        "modify-ebs-default-kms-key-id",
		"ARNValue":                        "arn-value",
		"Ec2Thing":                        "ec2-thing",
	} {
		if got := cliName(aws); got != want {
			t.Errorf("cliName(%q) = %q, want %q", aws, got, want)
		}
	}
}

// TestSpecs checks every command of every group: an example that runs the
// command, unique flags, and a cobra command that builds.
func TestSpecs(t *testing.T) {
	a := newApp(nil, nil)
	for _, g := range []groupSpec{kmsGroup(), ec2Group(), ebsGroup(), cloudtrailGroup(), debugGroup()} {
		names := map[string]bool{}
		for _, s := range g.commands {
			name := s.cliName()
			if names[name] {
				t.Errorf("%s %s defined twice", g.name, name)
			}
			names[name] = true
			if !strings.Contains(s.example+"\n", "ebs "+g.name+" "+name+" ") && !strings.Contains(s.example+"\n", "ebs "+g.name+" "+name+"\n") {
				t.Errorf("%s %s: the example does not run it: %q", g.name, name, s.example)
			}
			if s.short == "" {
				t.Errorf("%s %s: no short help", g.name, name)
			}
			newOperationCommand(a, g.name, s) // panics on a duplicate flag
		}
	}
	want := strings.Fields(`create-key describe-key list-keys enable-key disable-key schedule-key-deletion
		cancel-key-deletion update-key-description create-alias update-alias delete-alias list-aliases encrypt
		decrypt re-encrypt generate-data-key generate-data-key-without-plaintext generate-random
		enable-key-rotation disable-key-rotation get-key-rotation-status rotate-key-on-demand list-key-rotations
		get-key-policy put-key-policy list-key-policies create-grant list-grants retire-grant revoke-grant
		tag-resource untag-resource list-resource-tags`)
	var got []string
	for _, s := range kmsGroup().commands {
		got = append(got, s.cliName())
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("kms commands\n got %v\nwant %v", got, want)
	}
}

func TestSpreadListArgs(t *testing.T) {
	root := newRootCommand(newApp(io.Discard, io.Discard))
	for _, tc := range []struct{ in, want string }{
		{"ec2 describe-snapshots --snapshot-ids a b c --output text", "ec2 describe-snapshots --snapshot-ids a --snapshot-ids b --snapshot-ids c --output text"},
		{"ec2 describe-volumes --volume-ids v1", "ec2 describe-volumes --volume-ids v1"},
		{"kms create-grant --key-id k --operations Decrypt Encrypt --grantee-principal p", "kms create-grant --key-id k --operations Decrypt --operations Encrypt --grantee-principal p"},
		{"kms describe-key --key-id a b", "kms describe-key --key-id a b"},
	} {
		got := strings.Join(spreadListArgs(root, strings.Fields(tc.in)), " ")
		if got != tc.want {
			t.Errorf("%s\n got %s\nwant %s", tc.in, got, tc.want)
		}
	}
}

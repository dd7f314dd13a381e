package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// render runs the printer on a response body.
func render(t *testing.T, format, queryExpr, body string) string {
	t.Helper()
	var out bytes.Buffer
	p := &printer{format: format, loc: time.UTC, out: &out}
	if queryExpr != "" {
		q, err := compileQuery(queryExpr)
		if err != nil {
			t.Fatal(err)
		}
		p.query = q
	}
	if err := p.print("DescribeKey", json.RawMessage(body)); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestJSONKeepsOrderAndNumbers(t *testing.T) {
	body := `{"Zeta":1,"Alpha":{"b":12345678901234567890,"a":1.50,"c":1e3},"Mid":[true,null,"x"],"Empty":[],"E":{}}`
	want := `{
    "Zeta": 1,
    "Alpha": {
        "b": 12345678901234567890,
        "a": 1.50,
        "c": 1e3
    },
    "Mid": [
        true,
        null,
        "x"
    ],
    "Empty": [],
    "E": {}
}
`
	if got := render(t, formatJSON, "", body); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestJSONStrings(t *testing.T) {
	got := render(t, formatJSON, "", `{"S":"<a&b> é \u0001 \"q\" \\ \n\t"}`)
	want := "{\n    \"S\": \"<a&b> é \\u0001 \\\"q\\\" \\\\ \\n\\t\"\n}\n"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestFormatTimestamp(t *testing.T) {
	plus2 := time.FixedZone("", 2*3600)
	tests := []struct {
		in   string
		loc  *time.Location
		want string
	}{
		{"1795871259", time.UTC, "2026-11-28T13:07:39+00:00"},
		{"1795871259.123", time.UTC, "2026-11-28T13:07:39.123000+00:00"},
		{"1795871259.1234565", time.UTC, "2026-11-28T13:07:39.123456+00:00"}, // half to even
		{"1795871259.1234575", time.UTC, "2026-11-28T13:07:39.123458+00:00"},
		{"1795871259.9999999", time.UTC, "2026-11-28T13:07:40+00:00"},
		{"1.5565824E9", time.UTC, "2019-04-30T00:00:00+00:00"},
		{"1795871259.5", plus2, "2026-11-28T15:07:39.500000+02:00"},
	}
	for _, tt := range tests {
		got, err := formatTimestamp(json.Number(tt.in), tt.loc)
		if err != nil || got != tt.want {
			t.Errorf("formatTimestamp(%s) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestTimestampsOnlyForKnownMembers(t *testing.T) {
	body := `{"Aliases":[{"AliasName":"alias/a","CreationDate":1795871259,"LastUpdatedDate":1795871260.25}],` +
		`"PendingWindowInDays":7,"KeyId":"1795871259","Events":[{"EventTime":1795871259}]}`
	got := render(t, formatJSON, "", body)
	for _, want := range []string{
		`"CreationDate": "2026-11-28T13:07:39+00:00"`,
		`"LastUpdatedDate": "2026-11-28T13:07:40.250000+00:00"`,
		`"EventTime": "2026-11-28T13:07:39+00:00"`,
		`"PendingWindowInDays": 7`,
		`"KeyId": "1795871259"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %s:\n%s", want, got)
		}
	}
}

func TestQuery(t *testing.T) {
	body := `{"KeyMetadata":{"KeyId":"k1","Arn":"arn:k1","Enabled":true,"CreationDate":1795871259,"KeySpec":"SYMMETRIC_DEFAULT"}}`
	tests := []struct {
		expr, format, want string
	}{
		{"KeyMetadata", formatJSON, "{\n    \"KeyId\": \"k1\",\n    \"Arn\": \"arn:k1\",\n    \"Enabled\": true,\n" +
			"    \"CreationDate\": \"2026-11-28T13:07:39+00:00\",\n    \"KeySpec\": \"SYMMETRIC_DEFAULT\"\n}\n"},
		{"KeyMetadata.{Z: KeySpec, A: KeyId}", formatJSON, "{\n    \"Z\": \"SYMMETRIC_DEFAULT\",\n    \"A\": \"k1\"\n}\n"},
		{"KeyMetadata.[KeyId, Enabled]", formatText, "k1\tTrue\n"},
		{"KeyMetadata.CreationDate", formatText, "2026-11-28T13:07:39+00:00\n"},
		{"KeyMetadata.Missing", formatText, "None\n"},
		{"KeyMetadata.Missing", formatJSON, "null\n"},
		{"length(KeyMetadata.KeyId)", formatJSON, "2\n"},
	}
	for _, tt := range tests {
		if got := render(t, tt.format, tt.expr, body); got != tt.want {
			t.Errorf("--query %s --output %s\n got %q\nwant %q", tt.expr, tt.format, got, tt.want)
		}
	}
}

func TestBadQueryIsUsageError(t *testing.T) {
	_, err := compileQuery("Keys[")
	if exitCode(err) != exitUsage {
		t.Errorf("exit code %d for %v, want %d", exitCode(err), err, exitUsage)
	}
}

// The expected outputs are what awscli/text.py prints for the same data.
func TestText(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"scalars sorted by key", `{"KeyId":"k","CiphertextBlob":"AQ==","EncryptionAlgorithm":"SYMMETRIC_DEFAULT"}`,
			"AQ==\tSYMMETRIC_DEFAULT\tk\n"},
		{"list of objects", `{"Keys":[{"KeyId":"a","KeyArn":"arn:a"},{"KeyId":"b","KeyArn":"arn:b"}],"Truncated":false}`,
			"False\nKEYS\tarn:a\ta\nKEYS\tarn:b\tb\n"},
		{"nested object and scalar list", `{"KeyMetadata":{"KeyId":"k","EncryptionAlgorithms":["SYMMETRIC_DEFAULT","X"]}}`,
			"KEYMETADATA\tk\nENCRYPTIONALGORITHMS\tSYMMETRIC_DEFAULT\nENCRYPTIONALGORITHMS\tX\n"},
		{"missing keys in list elements", `{"Aliases":[{"AliasName":"a","TargetKeyId":"k"},{"AliasName":"b"}]}`,
			"ALIASES\ta\tk\nALIASES\tb\t\n"},
		{"empty", `{}`, ""},
		{"null and numbers", `{"A":null,"B":7,"C":1.5}`, "None\t7\t1.5\n"},
	}
	for _, tt := range tests {
		if got := render(t, formatText, "", tt.body); got != tt.want {
			t.Errorf("%s\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
}

func TestTable(t *testing.T) {
	body := `{"KeyMetadata":{"KeyId":"k1","Enabled":true,"EncryptionAlgorithms":["SYMMETRIC_DEFAULT"]},` +
		`"Tags":[{"TagKey":"team","TagValue":"storage"},{"TagKey":"env"}]}`
	want := `------------------------------
|        DescribeKey         |
+----------------------------+
||       KeyMetadata        ||
|+-----------+--------------+|
||  KeyId    |  k1          ||
||  Enabled  |  True        ||
|+-----------+--------------+|
|||  EncryptionAlgorithms  |||
||+------------------------+||
|||  SYMMETRIC_DEFAULT     |||
||+------------------------+||
||           Tags           ||
|+----------+---------------+|
||  TagKey  |   TagValue    ||
|+----------+---------------+|
||  team    |  storage      ||
||  env     |               ||
|+----------+---------------+|
`
	if got := render(t, formatTable, "", body); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if got := render(t, formatTable, "", `{}`); got != "" {
		t.Errorf("empty response: got %q", got)
	}
}

func TestTableRowsHaveOneWidth(t *testing.T) {
	body := `{"Events":[{"EventId":"e1","EventName":"Decrypt","Resources":[{"ResourceType":"AWS::KMS::Key","ResourceName":"arn:aws:kms:local:000000000000:key/1234"}]}],"NextToken":"t"}`
	got := render(t, formatTable, "", body)
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	for _, l := range lines {
		if len([]rune(l)) != len([]rune(lines[0])) {
			t.Fatalf("ragged table:\n%s", got)
		}
	}
	for _, want := range []string{"|  NextToken  |  t", "||  EventName  |  Decrypt", "|||  AWS::KMS::Key  |  arn:aws:kms",
		"arn:aws:kms:local:000000000000:key/1234"} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
}

package policy

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/ebs-dev/ebs/internal/awserr"
)

const account = "111122223333"

// stmt wraps statement members in a 2012 policy with one statement.
func stmt(members string) string {
	return `{"Version":"2012-10-17","Statement":{` + members + `}}`
}

const allowRoot = `"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"`

func mustParse(t *testing.T, doc string) *Document {
	t.Helper()
	d, err := Parse(doc)
	if err != nil {
		t.Fatalf("Parse(%s): %v", doc, err)
	}
	return d
}

func TestParseValid(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want Statement
	}{
		{"root allow", stmt(allowRoot), Statement{Effect: "Allow",
			Principal: &Principal{AWS: []string{"arn:aws:iam::111122223333:root"}},
			Action:    []string{"kms:*"}, Resource: []string{"*"}}},
		{"principal star string", stmt(`"Effect":"Deny","Principal":"*","Action":"*"`),
			Statement{Effect: "Deny", Principal: &Principal{Any: true}, Action: []string{"*"}}},
		{"lists and not forms", stmt(`"Sid":"x","Effect":"Allow","NotPrincipal":{"AWS":["111122223333","arn:aws:iam::111122223333:user/path/alice"]},"NotAction":["kms:Decrypt","kms:ReEncrypt*"],"NotResource":["arn:aws:kms:*:111122223333:key/*"]`),
			Statement{Sid: "x", Effect: "Allow",
				NotPrincipal: &Principal{AWS: []string{account, "arn:aws:iam::111122223333:user/path/alice"}},
				NotAction:    []string{"kms:Decrypt", "kms:ReEncrypt*"},
				NotResource:  []string{"arn:aws:kms:*:111122223333:key/*"}}},
		{"service and federated", stmt(`"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com","Federated":["cognito-identity.amazonaws.com"],"AWS":"*"},"Action":"kms:Get?eyPolicy"`),
			Statement{Effect: "Allow", Principal: &Principal{AWS: []string{"*"},
				Service: []string{"ec2.amazonaws.com"}, Federated: []string{"cognito-identity.amazonaws.com"}},
				Action: []string{"kms:Get?eyPolicy"}}},
		{"role and session", stmt(`"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:role/admin","arn:aws:sts::111122223333:assumed-role/admin/bob@example.com"]},"Action":"kms:Decrypt"`),
			Statement{Effect: "Allow", Principal: &Principal{AWS: []string{
				"arn:aws:iam::111122223333:role/admin", "arn:aws:sts::111122223333:assumed-role/admin/bob@example.com"}},
				Action: []string{"kms:Decrypt"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := mustParse(t, tt.doc)
			if len(d.Statements) != 1 || !reflect.DeepEqual(d.Statements[0], tt.want) {
				t.Errorf("got %+v\nwant %+v", d.Statements, tt.want)
			}
		})
	}
}

func TestParseConditions(t *testing.T) {
	d := mustParse(t, stmt(`"Effect":"Allow","Principal":"*","Action":"kms:*","Condition":{
		"StringEquals":{"kms:ViaService":"ec2.local.amazonaws.com","kms:CallerAccount":["111122223333", 12, 1.5e3]},
		"Bool":{"kms:GrantIsForAWSResource":true},
		"ForAnyValue:StringLikeIfExists":{"kms:EncryptionContextKeys":"aws:*"}}`))
	want := []Condition{
		{"Bool", "kms:GrantIsForAWSResource", []string{"true"}},
		{"ForAnyValue:StringLikeIfExists", "kms:EncryptionContextKeys", []string{"aws:*"}},
		{"StringEquals", "kms:CallerAccount", []string{account, "12", "1.5e3"}},
		{"StringEquals", "kms:ViaService", []string{"ec2.local.amazonaws.com"}},
	}
	if got := d.Statements[0].Condition; !reflect.DeepEqual(got, want) {
		t.Errorf("conditions = %+v, want %+v", got, want)
	}
}

func TestParseDocument(t *testing.T) {
	d := mustParse(t, `{"Statement":[{`+allowRoot+`},{"Sid":"a",`+allowRoot+`},{"Sid":"b",`+allowRoot+`}]}`)
	if d.Version != Version2008 || d.ID != "" || len(d.Statements) != 3 {
		t.Errorf("got version %q id %q and %d statements", d.Version, d.ID, len(d.Statements))
	}
	d = mustParse(t, ` {"Version":"2008-10-17","Id":"key-consolepolicy-3","Statement":[{`+allowRoot+`}]} `)
	if d.Version != Version2008 || d.ID != "key-consolepolicy-3" {
		t.Errorf("got version %q id %q", d.Version, d.ID)
	}
}

func TestParseMalformed(t *testing.T) {
	tests := []struct {
		name, doc, msg string
	}{
		{"empty", ``, "not valid JSON"},
		{"truncated", `{"Statement":`, "not valid JSON"},
		{"trailing data", stmt(allowRoot) + `x`, "not valid JSON"},
		{"array", `[]`, "must be a JSON object"},
		{"null", `null`, "must be a JSON object"},
		{"string", `"x"`, "must be a JSON object"},
		{"unknown top member", `{"Statement":{` + allowRoot + `},"Extra":1}`, `unknown element "Extra"`},
		{"lowercase member", `{"statement":{` + allowRoot + `}}`, `unknown element "statement"`},
		{"bad version", `{"Version":"2012-10-18","Statement":{` + allowRoot + `}}`, "invalid Version"},
		{"version number", `{"Version":2012,"Statement":{` + allowRoot + `}}`, "invalid Version"},
		{"id not string", `{"Id":1,"Statement":{` + allowRoot + `}}`, "invalid Id"},
		{"no statement", `{"Version":"2012-10-17"}`, "must contain a Statement"},
		{"empty statement list", `{"Statement":[]}`, "at least one statement"},
		{"statement null", `{"Statement":null}`, "not a JSON object"},
		{"statement string", `{"Statement":["x"]}`, "not a JSON object"},
		{"duplicate sid", `{"Statement":[{"Sid":"a",` + allowRoot + `},{"Sid":"a",` + allowRoot + `}]}`, "must be unique"},
		{"sid number", stmt(`"Sid":1,` + allowRoot), "invalid Sid"},
		{"unknown statement member", stmt(allowRoot + `,"Foo":1`), `unknown element "Foo"`},
		{"no effect", stmt(`"Principal":"*","Action":"*"`), "no Effect"},
		{"bad effect", stmt(`"Effect":"allow","Principal":"*","Action":"*"`), "invalid Effect"},
		{"no principal", stmt(`"Effect":"Allow","Action":"*"`), "no principal"},
		{"both principals", stmt(`"Effect":"Allow","Principal":"*","NotPrincipal":"*","Action":"*"`), "both Principal and NotPrincipal"},
		{"principal non-star string", stmt(`"Effect":"Allow","Principal":"111122223333","Action":"*"`), invalidPrincipals},
		{"principal empty object", stmt(`"Effect":"Allow","Principal":{},"Action":"*"`), invalidPrincipals},
		{"principal unknown member", stmt(`"Effect":"Allow","Principal":{"CanonicalUser":"x"},"Action":"*"`), invalidPrincipals},
		{"principal empty list", stmt(`"Effect":"Allow","Principal":{"AWS":[]},"Action":"*"`), invalidPrincipals},
		{"principal number", stmt(`"Effect":"Allow","Principal":{"AWS":111122223333},"Action":"*"`), invalidPrincipals},
		{"principal short account", stmt(`"Effect":"Allow","Principal":{"AWS":"11112222333"},"Action":"*"`), invalidPrincipals},
		{"principal wildcard arn", stmt(`"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/*"},"Action":"*"`), invalidPrincipals},
		{"principal group", stmt(`"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:group/admins"},"Action":"*"`), invalidPrincipals},
		{"principal bad partition", stmt(`"Effect":"Allow","Principal":{"AWS":"arn:aws-xx:iam::111122223333:root"},"Action":"*"`), invalidPrincipals},
		{"principal session without name", stmt(`"Effect":"Allow","Principal":{"AWS":"arn:aws:sts::111122223333:assumed-role/admin"},"Action":"*"`), invalidPrincipals},
		{"principal empty path segment", stmt(`"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user//alice"},"Action":"*"`), invalidPrincipals},
		{"principal bad service", stmt(`"Effect":"Allow","Principal":{"Service":"*"},"Action":"*"`), invalidPrincipals},
		{"no action", stmt(`"Effect":"Allow","Principal":"*"`), "no Action"},
		{"both actions", stmt(`"Effect":"Allow","Principal":"*","Action":"*","NotAction":"*"`), "both Action and NotAction"},
		{"action without service", stmt(`"Effect":"Allow","Principal":"*","Action":"Decrypt"`), "invalid action"},
		{"action empty name", stmt(`"Effect":"Allow","Principal":"*","Action":"kms:"`), "invalid action"},
		{"action bad chars", stmt(`"Effect":"Allow","Principal":"*","Action":"kms:De crypt"`), "invalid action"},
		{"action empty list", stmt(`"Effect":"Allow","Principal":"*","Action":[]`), "invalid action"},
		{"action null in list", stmt(`"Effect":"Allow","Principal":"*","Action":["kms:*",null]`), "invalid action"},
		{"both resources", stmt(`"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","NotResource":"*"`), "both Resource and NotResource"},
		{"resource not arn", stmt(`"Effect":"Allow","Principal":"*","Action":"*","Resource":"key/1"`), "invalid resource"},
		{"resource short arn", stmt(`"Effect":"Allow","Principal":"*","Action":"*","Resource":"arn:aws:kms:x"`), "invalid resource"},
		{"resource empty list", stmt(`"Effect":"Allow","Principal":"*","Action":"*","NotResource":[]`), "invalid resource"},
		{"condition not object", stmt(`"Effect":"Allow","Principal":"*","Action":"*","Condition":[]`), "invalid Condition"},
		{"unknown operator", stmt(`"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringEqual":{"a":"b"}}`), "unknown condition operator"},
		{"binary operator", stmt(`"Effect":"Allow","Principal":"*","Action":"*","Condition":{"BinaryEquals":{"a":"AA=="}}`), "unknown condition operator"},
		{"numeric value not a number", stmt(`"Effect":"Allow","Principal":"*","Action":"*","Condition":{"NumericLessThan":{"a":["1","x"]}}`), `"x" of "a" under NumericLessThan must be a number`},
		{"numeric value infinite", stmt(`"Effect":"Allow","Principal":"*","Action":"*","Condition":{"NumericEquals":{"a":"1e999"}}`), "must be a number"},
		{"date value not a date", stmt(`"Effect":"Allow","Principal":"*","Action":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"tomorrow"}}`), "must be an ISO 8601 date"},
		{"ip value not an address", stmt(`"Effect":"Allow","Principal":"*","Action":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/33"}}`), "must be an IP address"},
		{"null if exists", stmt(`"Effect":"Allow","Principal":"*","Action":"*","Condition":{"NullIfExists":{"a":"true"}}`), "unknown condition operator"},
		{"for any value null", stmt(`"Effect":"Allow","Principal":"*","Action":"*","Condition":{"ForAnyValue:Null":{"a":"true"}}`), "unknown condition operator"},
		{"bad prefix", stmt(`"Effect":"Allow","Principal":"*","Action":"*","Condition":{"ForSomeValues:StringEquals":{"a":"b"}}`), "unknown condition operator"},
		{"empty operator block", stmt(`"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringEquals":{}}`), "invalid Condition"},
		{"operator block string", stmt(`"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringEquals":"a"}`), "invalid Condition"},
		{"condition empty key", stmt(`"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringEquals":{"":"a"}}`), "invalid Condition"},
		{"condition empty list", stmt(`"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringEquals":{"a":[]}}`), "invalid Condition"},
		{"condition null value", stmt(`"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringEquals":{"a":null}}`), "invalid Condition"},
		{"condition object value", stmt(`"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringEquals":{"a":{"b":"c"}}}`), "invalid Condition"},
		{"condition nested list", stmt(`"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringEquals":{"a":[["b"]]}}`), "invalid Condition"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Parse(tt.doc)
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", d)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("error %v is not ErrMalformed", err)
			}
			if msg := awserr.Message(err); !strings.Contains(msg, tt.msg) {
				t.Errorf("message %q does not contain %q", msg, tt.msg)
			}
		})
	}
}

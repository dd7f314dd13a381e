package policy

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/ebs-dev/ebs/internal/awserr"
)

// fuzzRequests are evaluated against every document that parses.
var fuzzRequests = []Request{
	{},
	req(rootUser, "kms:PutKeyPolicy"),
	req(alice, "kms:Decrypt"),
	{Principal: "arn:aws:sts::111122223333:assumed-role/admin/s", Action: "kms:CreateGrant", Resource: keyARN, Context: ctx},
	{Principal: "ec2.amazonaws.com", Account: "444455556666", Action: "*", Resource: "*",
		Context: map[string][]string{"": {""}, "k": nil, "kms:ViaService": {"ec2.local.amazonaws.com"}}},
}

func FuzzParse(f *testing.F) {
	seeds := []string{
		DefaultKeyPolicy(account),
		AWSManagedKeyPolicy(account, "ec2", "local"),
		``, `{}`, `null`, `[]`, `"*"`, `{"Statement":[]}`, `{"Statement":null}`,
		`{"Statement":{"Effect":"Allow","Principal":"*","Action":"*"}}`,
		`{"Statement":[{"Sid":"a","Effect":"Deny","NotPrincipal":{"AWS":["111122223333","arn:aws:sts::111122223333:assumed-role/r/s"]},"NotAction":"kms:*","NotResource":["arn:aws:kms:*"]}]}`,
		`{"Version":"2008-10-17","Id":"x","Statement":{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com","Federated":"www.amazon.com"},"Action":"kms:??crypt*"}}`,
		`{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"ForAllValues:StringLikeIfExists":{"kms:EncryptionContextKeys":["aws:*",1,true,-2.5e10]},"Null":{"x":"true"},"BoolIfExists":{"b":false}}}}`,
		`{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringEquals":{"a":[]}}}}`,
		`{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"arn:aws:kms:*:*:key/*?*","Condition":{}}}`,
		`{"Statement":[{"Sid":"a","Effect":"Allow","Principal":"*","Action":"*"},{"Sid":"a","Effect":"Allow","Principal":"*","Action":"*"}]}`,
		`{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/\u00e9"},"Action":"*"}}`,
		`{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringLike":{"k":"\xff*\xfe?"}}}}`,
		`{"Statement":{"Effect":"Allow","Principal":"*","Action":"*"},"Statement":{"Effect":"Deny"}}`,
		`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`,
		"{\"Statement\":{\"Effect\":\"Allow\"\x00}}",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		d, err := Parse(doc)
		if err != nil {
			if d != nil {
				t.Fatalf("Parse returned a document and an error %v", err)
			}
			if !errors.Is(err, ErrMalformed) || awserr.Message(err) == "" {
				t.Fatalf("error %v is not a malformed-policy error with a message", err)
			}
			return
		}
		if len(d.Statements) == 0 {
			t.Fatalf("Parse accepted a policy without statements: %q", doc)
		}
		for _, r := range fuzzRequests {
			if got := d.Evaluate(r); got < NotApplicable || got > Deny {
				t.Fatalf("Evaluate returned %v", got)
			}
		}
	})
}

// FuzzGlob checks the globSet against the equivalent regular expression,
// alone and in a set with a second pattern.
func FuzzGlob(f *testing.F) {
	f.Add("a*b?c", "axxbyc", "*")
	f.Add("*a*a*a*b", "aaaaaaaab", "x?")
	f.Add("?é*", "xéé", "")
	f.Add(strings.Repeat("?", 70)+"*", strings.Repeat("é", 71), "\xff")
	f.Fuzz(func(t *testing.T, p1, s, p2 string) {
		if len(p1)+len(p2) > 300 || len(s) > 300 {
			return
		}
		var buf []uint64
		re1 := regexp.MustCompile("^" + globToRegexp(p1) + "$")
		re2 := regexp.MustCompile("^" + globToRegexp(p2) + "$")
		if got, want := newGlobSet([]string{p1}).match(s, &buf), re1.MatchString(s); got != want {
			t.Fatalf("glob %q matches %q = %v, regexp says %v", p1, s, got, want)
		}
		want := re1.MatchString(s) || re2.MatchString(s)
		if got := newGlobSet([]string{p1, p2}).match(s, &buf); got != want {
			t.Fatalf("set {%q, %q} matches %q = %v, want %v", p1, p2, s, got, want)
		}
	})
}

package policy

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

const (
	keyARN   = "arn:aws:kms:local:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	rootUser = "arn:aws:iam::111122223333:root"
	alice    = "arn:aws:iam::111122223333:user/alice"
	bob      = "arn:aws:iam::111122223333:user/bob"
	outsider = "arn:aws:iam::444455556666:user/eve"
)

// req is a request by principal in account 111122223333 (or the account of
// the principal's ARN) for action on keyARN.
func req(principal, action string) Request {
	return Request{Principal: principal, Action: action, Resource: keyARN}
}

func TestEvaluate(t *testing.T) {
	tests := []struct {
		name       string
		statements string // the members of Statement: [...]
		req        Request
		want       Decision
	}{
		{"root delegation admits account user", `{` + allowRoot + `}`, req(alice, "kms:Decrypt"), Allow},
		{"root delegation admits root", `{` + allowRoot + `}`, req(rootUser, "kms:PutKeyPolicy"), Allow},
		{"root delegation uses Account field", `{` + allowRoot + `}`,
			Request{Principal: "whoever", Account: account, Action: "kms:Decrypt", Resource: keyARN}, Allow},
		{"root delegation rejects other account", `{` + allowRoot + `}`, req(outsider, "kms:Decrypt"), NotApplicable},
		{"bare account id is root", `{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*"}`,
			req(bob, "kms:Encrypt"), Allow},
		{"no principal in request", `{` + allowRoot + `}`, Request{Action: "kms:Decrypt"}, NotApplicable},
		{"exact user", `{"Effect":"Allow","Principal":{"AWS":"` + alice + `"},"Action":"kms:Decrypt"}`,
			req(alice, "kms:Decrypt"), Allow},
		{"exact user is case-sensitive", `{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/Alice"},"Action":"kms:Decrypt"}`,
			req(alice, "kms:Decrypt"), NotApplicable},
		{"other user", `{"Effect":"Allow","Principal":{"AWS":"` + alice + `"},"Action":"kms:Decrypt"}`,
			req(bob, "kms:Decrypt"), NotApplicable},
		{"principal star admits outsider", `{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:Decrypt"}`,
			req(outsider, "kms:Decrypt"), Allow},
		{"role admits its session", `{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/ops/admin"},"Action":"kms:Decrypt"}`,
			req("arn:aws:sts::111122223333:assumed-role/admin/s1", "kms:Decrypt"), Allow},
		{"role rejects other role's session", `{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/admin"},"Action":"kms:Decrypt"}`,
			req("arn:aws:sts::111122223333:assumed-role/other/s1", "kms:Decrypt"), NotApplicable},
		{"service principal matches only that service", `{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"kms:Decrypt"}`,
			req(alice, "kms:Decrypt"), NotApplicable},
		{"service principal caller", `{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"kms:Decrypt"}`,
			Request{Principal: "ec2.amazonaws.com", Action: "kms:Decrypt"}, Allow},
		{"federated never matches", `{"Effect":"Allow","Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":"kms:Decrypt"}`,
			Request{Principal: "cognito-identity.amazonaws.com", Action: "kms:Decrypt"}, NotApplicable},
		{"deny wins", `{` + allowRoot + `},{"Effect":"Deny","Principal":{"AWS":"` + alice + `"},"Action":"kms:Decrypt"}`,
			req(alice, "kms:Decrypt"), Deny},
		{"deny wins in any order", `{"Effect":"Deny","Principal":"*","Action":"kms:ScheduleKeyDeletion"},{` + allowRoot + `}`,
			req(rootUser, "kms:ScheduleKeyDeletion"), Deny},
		{"deny for another action", `{` + allowRoot + `},{"Effect":"Deny","Principal":"*","Action":"kms:ScheduleKeyDeletion"}`,
			req(rootUser, "kms:Decrypt"), Allow},
		{"lone deny that does not match", `{"Effect":"Deny","Principal":"*","Action":"kms:Decrypt"}`,
			req(alice, "kms:Encrypt"), NotApplicable},
		{"not principal denies everyone else", `{` + allowRoot + `},{"Effect":"Deny","NotPrincipal":{"AWS":"` + alice + `"},"Action":"kms:Decrypt"}`,
			req(bob, "kms:Decrypt"), Deny},
		{"not principal spares the named", `{` + allowRoot + `},{"Effect":"Deny","NotPrincipal":{"AWS":"` + alice + `"},"Action":"kms:Decrypt"}`,
			req(alice, "kms:Decrypt"), Allow},
		{"not principal root spares the account", `{"Effect":"Allow","NotPrincipal":{"AWS":"111122223333"},"Action":"kms:Decrypt"}`,
			req(alice, "kms:Decrypt"), NotApplicable},
		{"not principal admits outsiders", `{"Effect":"Allow","NotPrincipal":{"AWS":"111122223333"},"Action":"kms:Decrypt"}`,
			req(outsider, "kms:Decrypt"), Allow},
		{"not action", `{"Effect":"Allow","Principal":"*","NotAction":["kms:ScheduleKeyDeletion","kms:Disable*"]}`,
			req(alice, "kms:Decrypt"), Allow},
		{"not action excludes", `{"Effect":"Allow","Principal":"*","NotAction":["kms:ScheduleKeyDeletion","kms:Disable*"]}`,
			req(alice, "kms:DisableKey"), NotApplicable},
		{"action wildcard star", `{"Effect":"Allow","Principal":"*","Action":"kms:GenerateDataKey*"}`,
			req(alice, "kms:GenerateDataKeyWithoutPlaintext"), Allow},
		{"action wildcard star matches empty", `{"Effect":"Allow","Principal":"*","Action":"kms:GenerateDataKey*"}`,
			req(alice, "kms:GenerateDataKey"), Allow},
		{"action wildcard question", `{"Effect":"Allow","Principal":"*","Action":"kms:ReEncrypt????"}`,
			req(alice, "kms:ReEncryptFrom"), Allow},
		{"action wildcard question counts", `{"Effect":"Allow","Principal":"*","Action":"kms:ReEncrypt???"}`,
			req(alice, "kms:ReEncryptFrom"), NotApplicable},
		{"action is case-insensitive", `{"Effect":"Allow","Principal":"*","Action":"KMS:decrypt"}`,
			req(alice, "kms:Decrypt"), Allow},
		{"action star", `{"Effect":"Allow","Principal":"*","Action":"*"}`, req(alice, "kms:Decrypt"), Allow},
		{"other service action", `{"Effect":"Allow","Principal":"*","Action":"s3:*"}`, req(alice, "kms:Decrypt"), NotApplicable},
		{"resource arn wildcard", `{"Effect":"Allow","Principal":"*","Action":"*","Resource":"arn:aws:kms:*:111122223333:key/*"}`,
			req(alice, "kms:Decrypt"), Allow},
		{"resource other key", `{"Effect":"Allow","Principal":"*","Action":"*","Resource":"arn:aws:kms:local:111122223333:key/other"}`,
			req(alice, "kms:Decrypt"), NotApplicable},
		{"resource is case-sensitive", `{"Effect":"Allow","Principal":"*","Action":"*","Resource":"arn:aws:kms:local:111122223333:key/1234ABCD-*"}`,
			req(alice, "kms:Decrypt"), NotApplicable},
		{"not resource", `{"Effect":"Allow","Principal":"*","Action":"*","NotResource":"arn:aws:kms:local:111122223333:key/other"}`,
			req(alice, "kms:Decrypt"), Allow},
		{"not resource excludes", `{"Effect":"Allow","Principal":"*","Action":"*","NotResource":"arn:aws:kms:*:*:*"}`,
			req(alice, "kms:Decrypt"), NotApplicable},
		{"condition gates allow", `{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringEquals":{"kms:CallerAccount":"444455556666"}}}`,
			req(alice, "kms:Decrypt"), NotApplicable},
		{"condition gates deny", `{` + allowRoot + `},{"Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Condition":{"Bool":{"aws:SecureTransport":"false"}}}`,
			req(alice, "kms:Decrypt"), Allow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := mustParse(t, `{"Version":"2012-10-17","Statement":[`+tt.statements+`]}`)
			if got := d.Evaluate(tt.req); got != tt.want {
				t.Errorf("Evaluate = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEvaluateNilAndHandBuilt(t *testing.T) {
	var d *Document
	if got := d.Evaluate(req(alice, "kms:Decrypt")); got != NotApplicable {
		t.Errorf("nil document: %v", got)
	}
	d = &Document{Statements: []Statement{
		{Effect: "Allow"}, // no principal, no action: never applies
		{Effect: "Maybe", Principal: &Principal{Any: true}, Action: []string{"*"}},
		{Effect: "Allow", Principal: &Principal{Any: true}, Action: []string{"*"},
			Condition: []Condition{{Operator: "Bogus", Key: "k", Values: []string{"v"}}}},
	}}
	if got := d.Evaluate(req(alice, "kms:Decrypt")); got != NotApplicable {
		t.Errorf("hand-built document: %v", got)
	}
}

func TestDecisionString(t *testing.T) {
	for d, want := range map[Decision]string{NotApplicable: "NotApplicable", Allow: "Allow", Deny: "Deny", 9: "Decision(9)"} {
		if got := d.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(d), got, want)
		}
	}
}

// TestEvaluateCostIndependentOfPatternCount checks, by counting allocations
// (deterministic, unlike time), that testing a value against a condition's
// patterns does not redo work per pattern: the patterns are compiled once,
// into one automaton, at Parse.
func TestEvaluateCostIndependentOfPatternCount(t *testing.T) {
	allocs := func(n int) float64 {
		patterns := make([]string, n)
		for i := range patterns {
			patterns[i] = fmt.Sprintf("*%d?x*", i)
		}
		raw, err := json.Marshal(patterns)
		if err != nil {
			t.Fatal(err)
		}
		d := mustParse(t, stmt(`"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Condition":{"StringLike":{"kms:EncryptionContext:k":`+string(raw)+`}}`))
		r := req(alice, "kms:Decrypt")
		r.Context = map[string][]string{"kms:EncryptionContext:k": {strings.Repeat("a", 2000)}}
		return testing.AllocsPerRun(5, func() {
			if d.Evaluate(r) != NotApplicable {
				t.Fatal("a pattern matched")
			}
		})
	}
	if few, many := allocs(200), allocs(2000); many > few {
		t.Errorf("Evaluate allocates %v times with 2000 patterns, %v with 200", many, few)
	}
}

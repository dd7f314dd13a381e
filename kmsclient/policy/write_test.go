package policy

import (
	"errors"
	"strings"
	"testing"

	"github.com/ebs-dev/ebs/internal/awserr"
)

func TestCheckNew(t *testing.T) {
	tests := []struct {
		name, doc, msg string // msg empty: accepted
	}{
		{"default policy", DefaultKeyPolicy(account), ""},
		{"latin-1 and tabs", "{\t\"Statement\":{\"Sid\":\"caf\u00e9 \u00ff\",\r\n" + allowRoot + "}}", ""},
		{"delete character", stmt(`"Sid":"a` + "\x7f" + `",` + allowRoot), "U+007F"},
		{"c1 control", stmt(`"Sid":"a` + "\u0085" + `",` + allowRoot), "U+0085"},
		{"beyond latin-1", stmt("\"Sid\":\"\u20ac\"," + allowRoot), "U+20AC"},
		{"escaped beyond latin-1", stmt(`"Sid":"\u20ac",` + allowRoot), ""},
		{"for any value on context key", stmt(allowRoot + `,"Condition":{"ForAnyValue:StringEquals":{"kms:EncryptionContext:app":"x"}}`), ""},
		{"for all values on context keys", stmt(allowRoot + `,"Condition":{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":"app"}}`), ""},
		{"for all values on context key", stmt(allowRoot + `,"Condition":{"ForAllValues:StringLike":{"KMS:encryptioncontext:app":"x"}}`), "OverlyPermissiveCondition:EncryptionContext"},
		{"for all values on request tag", stmt(allowRoot + `,"Condition":{"ForAllValues:StringEquals":{"aws:RequestTag/env":"x"}}`), "OverlyPermissiveCondition:RequestTag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckNew(tt.doc, mustParse(t, tt.doc))
			switch {
			case tt.msg == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.msg == "":
			case err == nil:
				t.Fatal("accepted")
			case !errors.Is(err, ErrMalformed) || !strings.Contains(awserr.Message(err), tt.msg):
				t.Fatalf("error %q, want a malformed-policy error with %q", awserr.Message(err), tt.msg)
			}
		})
	}
}

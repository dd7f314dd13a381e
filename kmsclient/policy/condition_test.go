package policy

import "testing"

// ctx is a request context with a volume id in the encryption context, the
// caller's account, the EC2 service and two encryption context keys.
var ctx = map[string][]string{
	"kms:EncryptionContext:aws:ebs:id": {"vol-0123456789abcdef0"},
	"kms:CallerAccount":                {account},
	"kms:ViaService":                   {"ec2.local.amazonaws.com"},
	"kms:EncryptionContextKeys":        {"aws:ebs:id", "project"},
	"kms:GrantIsForAWSResource":        {"true"},
	"kms:GrantOperations":              {"Decrypt", "GenerateDataKeyWithoutPlaintext"},
	"kms:Empty":                        {},
	"kms:RotationPeriodInDays":         {"180"},
	"aws:CurrentTime":                  {"2024-05-06T07:08:09Z"},
	"aws:EpochTime":                    {"1714979289"},
	"aws:SourceIp":                     {"192.0.2.17"},
	"aws:PrincipalArn":                 {alice},
}

func TestConditionOperators(t *testing.T) {
	tests := []struct {
		name      string
		condition string // the Condition element
		want      bool
	}{
		// StringEquals and StringNotEquals.
		{"equals", `{"StringEquals":{"kms:CallerAccount":"111122223333"}}`, true},
		{"equals other", `{"StringEquals":{"kms:CallerAccount":"444455556666"}}`, false},
		{"equals any listed value", `{"StringEquals":{"kms:CallerAccount":["444455556666","111122223333"]}}`, true},
		{"equals is case-sensitive", `{"StringEquals":{"kms:ViaService":"EC2.local.amazonaws.com"}}`, false},
		{"equals number value", `{"StringEquals":{"kms:CallerAccount":111122223333}}`, true},
		{"equals all keys", `{"StringEquals":{"kms:CallerAccount":"111122223333","kms:ViaService":"ec2.local.amazonaws.com"}}`, true},
		{"equals one key fails", `{"StringEquals":{"kms:CallerAccount":"111122223333","kms:ViaService":"s3.local.amazonaws.com"}}`, false},
		{"all operators", `{"StringEquals":{"kms:CallerAccount":"111122223333"},"StringLike":{"kms:ViaService":"s3.*"}}`, false},
		{"key name is case-insensitive", `{"StringEquals":{"KMS:CALLERACCOUNT":"111122223333"}}`, true},
		{"equals missing key", `{"StringEquals":{"kms:Missing":"x"}}`, false},
		{"equals empty key", `{"StringEquals":{"kms:Empty":"x"}}`, false},
		{"not equals", `{"StringNotEquals":{"kms:CallerAccount":"444455556666"}}`, true},
		{"not equals same", `{"StringNotEquals":{"kms:CallerAccount":"111122223333"}}`, false},
		{"not equals any listed", `{"StringNotEquals":{"kms:CallerAccount":["444455556666","111122223333"]}}`, false},
		{"not equals missing key", `{"StringNotEquals":{"kms:Missing":"x"}}`, true},
		{"not equals multi-valued", `{"StringNotEquals":{"kms:EncryptionContextKeys":"project"}}`, false},
		// Ignoring case.
		{"equals ignore case", `{"StringEqualsIgnoreCase":{"kms:ViaService":"EC2.LOCAL.amazonaws.com"}}`, true},
		{"not equals ignore case", `{"StringNotEqualsIgnoreCase":{"kms:ViaService":"EC2.LOCAL.amazonaws.com"}}`, false},
		{"not equals ignore case differs", `{"StringNotEqualsIgnoreCase":{"kms:ViaService":"s3.local.amazonaws.com"}}`, true},
		// Like.
		{"like star", `{"StringLike":{"kms:EncryptionContext:aws:ebs:id":"vol-*"}}`, true},
		{"like question", `{"StringLike":{"kms:ViaService":"ec?.*.amazonaws.com"}}`, true},
		{"like no match", `{"StringLike":{"kms:EncryptionContext:aws:ebs:id":"snap-*"}}`, false},
		{"like is case-sensitive", `{"StringLike":{"kms:EncryptionContext:aws:ebs:id":"VOL-*"}}`, false},
		{"not like", `{"StringNotLike":{"kms:EncryptionContext:aws:ebs:id":"snap-*"}}`, true},
		{"not like match", `{"StringNotLike":{"kms:EncryptionContext:aws:ebs:id":["snap-*","vol-*"]}}`, false},
		{"not like missing", `{"StringNotLike":{"kms:Missing":"*"}}`, true},
		// Arn.
		{"arn like", `{"ArnLike":{"aws:SourceArn":"arn:aws:ec2:*:111122223333:volume/*"}}`, false},
		{"arn not like missing", `{"ArnNotLike":{"aws:SourceArn":"arn:aws:ec2:*"}}`, true},
		// Arn: each of the six fields apart.
		{"arn equals", `{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/alice"}}`, true},
		{"arn like field wildcard", `{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/*"}}`, true},
		{"arn like star stays in its field", `{"ArnLike":{"aws:PrincipalArn":"arn:*:user/alice"}}`, false},
		{"string like star spans fields", `{"StringLike":{"aws:PrincipalArn":"arn:*:user/alice"}}`, true},
		{"arn not like", `{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::444455556666:*"}}`, true},
		{"arn like not an arn", `{"ArnLike":{"kms:CallerAccount":"arn:*"}}`, false},
		{"arn like star alone", `{"ArnLike":{"kms:CallerAccount":"*"}}`, true},
		{"arn like short pattern", `{"ArnLike":{"aws:PrincipalArn":"arn:aws:*"}}`, true},
		{"arn like short pattern other partition", `{"ArnLike":{"aws:PrincipalArn":"arn:aws-cn:*"}}`, false},
		// Numeric.
		{"numeric equals", `{"NumericEquals":{"kms:RotationPeriodInDays":180}}`, true},
		{"numeric equals decimal", `{"NumericEquals":{"kms:RotationPeriodInDays":"180.0"}}`, true},
		{"numeric not equals", `{"NumericNotEquals":{"kms:RotationPeriodInDays":["90","365"]}}`, true},
		{"numeric less than", `{"NumericLessThan":{"kms:RotationPeriodInDays":180}}`, false},
		{"numeric less than equals", `{"NumericLessThanEquals":{"kms:RotationPeriodInDays":180}}`, true},
		{"numeric greater than any", `{"NumericGreaterThan":{"kms:RotationPeriodInDays":[365,90]}}`, true},
		{"numeric greater than equals", `{"NumericGreaterThanEquals":{"kms:RotationPeriodInDays":181}}`, false},
		{"numeric on a string", `{"NumericEquals":{"kms:CallerAccount":1}}`, false},
		{"numeric missing", `{"NumericLessThan":{"kms:Missing":1}}`, false},
		{"numeric not equals missing", `{"NumericNotEquals":{"kms:Missing":1}}`, true},
		// Date.
		{"date less than", `{"DateLessThan":{"aws:CurrentTime":"2024-05-07"}}`, true},
		{"date greater than", `{"DateGreaterThan":{"aws:CurrentTime":"2024-05-06T07:08:10Z"}}`, false},
		{"date greater than equals", `{"DateGreaterThanEquals":{"aws:CurrentTime":"2024-05-06T09:08:09+02:00"}}`, true},
		{"date equals epoch", `{"DateEquals":{"aws:CurrentTime":1714979289}}`, true},
		{"date epoch key", `{"DateLessThanEquals":{"aws:EpochTime":"2024-05-06T07:08:09Z"}}`, true},
		{"numeric epoch key", `{"NumericGreaterThan":{"aws:EpochTime":1714979288}}`, true},
		{"date not equals", `{"DateNotEquals":{"aws:CurrentTime":"2024"}}`, true},
		// IP address.
		{"ip in range", `{"IpAddress":{"aws:SourceIp":"192.0.2.0/24"}}`, true},
		{"ip exact", `{"IpAddress":{"aws:SourceIp":"192.0.2.17"}}`, true},
		{"ip outside", `{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32"]}}`, false},
		{"not ip", `{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, true},
		{"not ip inside", `{"NotIpAddress":{"aws:SourceIp":"192.0.2.16/28"}}`, false},
		{"ip missing", `{"IpAddress":{"aws:VpcSourceIp":"0.0.0.0/0"}}`, false},
		{"not ip missing", `{"NotIpAddress":{"aws:VpcSourceIp":"10.0.0.0/8"}}`, true},
		{"ip if exists missing", `{"IpAddressIfExists":{"aws:VpcSourceIp":"10.0.0.0/8"}}`, true},
		// Bool.
		{"bool true", `{"Bool":{"kms:GrantIsForAWSResource":true}}`, true},
		{"bool string", `{"Bool":{"kms:GrantIsForAWSResource":"TRUE"}}`, true},
		{"bool false", `{"Bool":{"kms:GrantIsForAWSResource":false}}`, false},
		{"bool missing", `{"Bool":{"aws:SecureTransport":"true"}}`, false},
		{"bool if exists missing", `{"BoolIfExists":{"aws:SecureTransport":"true"}}`, true},
		{"bool if exists present", `{"BoolIfExists":{"kms:GrantIsForAWSResource":"false"}}`, false},
		// Null.
		{"null true on missing", `{"Null":{"kms:Missing":"true"}}`, true},
		{"null true on empty", `{"Null":{"kms:Empty":true}}`, true},
		{"null true on present", `{"Null":{"kms:CallerAccount":"true"}}`, false},
		{"null false on present", `{"Null":{"kms:EncryptionContext:aws:ebs:id":"false"}}`, true},
		{"null false on missing", `{"Null":{"kms:EncryptionContext:project":false}}`, false},
		{"null other value", `{"Null":{"kms:Missing":"yes"}}`, false},
		// IfExists.
		{"if exists missing", `{"StringEqualsIfExists":{"kms:Missing":"x"}}`, true},
		{"if exists present match", `{"StringEqualsIfExists":{"kms:CallerAccount":"111122223333"}}`, true},
		{"if exists present mismatch", `{"StringEqualsIfExists":{"kms:CallerAccount":"x"}}`, false},
		{"not like if exists missing", `{"StringNotLikeIfExists":{"kms:Missing":"x"}}`, true},
		{"not equals if exists present", `{"StringNotEqualsIfExists":{"kms:CallerAccount":"111122223333"}}`, false},
		// ForAnyValue.
		{"any value", `{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":"project"}}`, true},
		{"any value none", `{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":["a","b"]}}`, false},
		{"any value missing", `{"ForAnyValue:StringEquals":{"kms:Missing":"x"}}`, false},
		{"any value not equals", `{"ForAnyValue:StringNotEquals":{"kms:EncryptionContextKeys":"project"}}`, true},
		{"any value not equals all listed", `{"ForAnyValue:StringNotEquals":{"kms:EncryptionContextKeys":["project","aws:ebs:id"]}}`, false},
		{"any value not equals missing", `{"ForAnyValue:StringNotEquals":{"kms:Missing":"x"}}`, false},
		{"any value like", `{"ForAnyValue:StringLike":{"kms:GrantOperations":"GenerateDataKey*"}}`, true},
		{"any value if exists missing", `{"ForAnyValue:StringEqualsIfExists":{"kms:Missing":"x"}}`, true},
		// ForAllValues.
		{"all values", `{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["aws:ebs:id","project","other"]}}`, true},
		{"all values one extra", `{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":"aws:ebs:id"}}`, false},
		{"all values missing", `{"ForAllValues:StringEquals":{"kms:Missing":"x"}}`, true},
		{"all values empty", `{"ForAllValues:StringEquals":{"kms:Empty":"x"}}`, true},
		{"all values like", `{"ForAllValues:StringLike":{"kms:GrantOperations":["Decrypt","GenerateDataKey*"]}}`, true},
		{"all values not equals", `{"ForAllValues:StringNotEquals":{"kms:GrantOperations":["CreateGrant","RetireGrant"]}}`, true},
		{"all values not equals hit", `{"ForAllValues:StringNotEquals":{"kms:GrantOperations":"Decrypt"}}`, false},
		{"all values ignore case", `{"ForAllValues:StringEqualsIgnoreCase":{"kms:GrantOperations":["decrypt","generatedatakeywithoutplaintext"]}}`, true},
		// Encryption context conditions as EBS uses them.
		{"ebs volume pinned", `{"StringEquals":{"kms:EncryptionContext:aws:ebs:id":"vol-0123456789abcdef0"}}`, true},
		{"ebs other volume", `{"StringEquals":{"kms:EncryptionContext:aws:ebs:id":"vol-1111111111111111f"}}`, false},
		{"context key name case-insensitive", `{"StringEquals":{"kms:encryptioncontext:AWS:EBS:ID":"vol-0123456789abcdef0"}}`, true},
		{"context value case-sensitive", `{"StringEquals":{"kms:EncryptionContext:aws:ebs:id":"VOL-0123456789ABCDEF0"}}`, false},
		{"context must carry ebs id", `{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":"aws:ebs:id"},"Null":{"kms:EncryptionContext:aws:ebs:id":"false"}}`, true},
		{"aws managed key condition", `{"StringEquals":{"kms:CallerAccount":"111122223333","kms:ViaService":"ec2.local.amazonaws.com"}}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := mustParse(t, stmt(`"Effect":"Allow","Principal":"*","Action":"*","Condition":`+tt.condition))
			r := req(alice, "kms:Decrypt")
			r.Context = ctx
			if got := d.Evaluate(r) == Allow; got != tt.want {
				t.Errorf("condition %s holds = %v, want %v", tt.condition, got, tt.want)
			}
		})
	}
}

// holds evaluates one condition against a request context.
func holds(t *testing.T, c Condition, ctx map[string][]string) bool {
	t.Helper()
	d := &Document{Statements: []Statement{{Effect: EffectAllow, Principal: &Principal{Any: true},
		Action: []string{"*"}, Condition: []Condition{c}}}}
	r := req(alice, "kms:Decrypt")
	r.Context = ctx
	return d.Evaluate(r) == Allow
}

func TestConditionKeysDifferingOnlyByCase(t *testing.T) {
	c := Condition{Operator: "ForAllValues:StringEquals", Key: "k", Values: []string{"a", "b"}}
	if !holds(t, c, map[string][]string{"k": {"a"}, "K": {"b"}}) {
		t.Error("values of k and K should be joined")
	}
	if holds(t, c, map[string][]string{"k": {"a"}, "K": {"c"}}) {
		t.Error("value c of K should count")
	}
}

func TestConditionNilContext(t *testing.T) {
	for _, op := range []string{"StringEquals", "StringNotEquals", "ForAnyValue:StringLike", "ForAllValues:StringLike", "Null", "BoolIfExists"} {
		c := Condition{Operator: op, Key: "k", Values: []string{"true"}}
		want := op != "StringEquals" && op != "ForAnyValue:StringLike"
		if got := holds(t, c, nil); got != want {
			t.Errorf("%s on a nil context = %v, want %v", op, got, want)
		}
	}
}

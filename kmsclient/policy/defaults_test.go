package policy

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestDefaultKeyPolicy(t *testing.T) {
	doc := DefaultKeyPolicy(account)
	want := `{
  "Version" : "2012-10-17",
  "Id" : "key-default-1",
  "Statement" : [ {
    "Sid" : "Enable IAM User Permissions",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "arn:aws:iam::111122223333:root"
    },
    "Action" : "kms:*",
    "Resource" : "*"
  } ]
}`
	if doc != want {
		t.Fatalf("DefaultKeyPolicy =\n%s\nwant\n%s", doc, want)
	}
	d := mustParse(t, doc)
	for _, tt := range []struct {
		r    Request
		want Decision
	}{
		{req(rootUser, "kms:PutKeyPolicy"), Allow},
		{req(alice, "kms:Decrypt"), Allow},
		{req(outsider, "kms:Decrypt"), NotApplicable},
	} {
		if got := d.Evaluate(tt.r); got != tt.want {
			t.Errorf("Evaluate(%+v) = %v, want %v", tt.r, got, tt.want)
		}
	}
}

func TestAWSManagedKeyPolicy(t *testing.T) {
	doc := AWSManagedKeyPolicy(account, "ec2", "local")
	d := mustParse(t, doc)
	if d.ID != "auto-ebs-2" || len(d.Statements) != 2 ||
		d.Statements[0].Sid != "Allow access through EBS for all principals in the account that are authorized to use EBS" ||
		d.Statements[1].Sid != "Allow direct access to key metadata to the account" {
		t.Fatalf("unexpected document %+v", d)
	}
	via := map[string][]string{"kms:CallerAccount": {account}, "kms:ViaService": {"ec2.local.amazonaws.com"}}
	withCtx := func(r Request, c map[string][]string) Request { r.Context = c; return r }
	tests := []struct {
		name string
		r    Request
		want Decision
	}{
		{"decrypt via ec2", withCtx(req(alice, "kms:Decrypt"), via), Allow},
		{"generate data key via ec2", withCtx(req(alice, "kms:GenerateDataKeyWithoutPlaintext"), via), Allow},
		{"create grant via ec2", withCtx(req(alice, "kms:CreateGrant"), via), Allow},
		{"decrypt directly", req(alice, "kms:Decrypt"), NotApplicable},
		{"decrypt via another region", withCtx(req(alice, "kms:Decrypt"),
			map[string][]string{"kms:CallerAccount": {account}, "kms:ViaService": {"ec2.us-east-1.amazonaws.com"}}), NotApplicable},
		{"outsider via ec2", withCtx(req(outsider, "kms:Decrypt"),
			map[string][]string{"kms:CallerAccount": {"444455556666"}, "kms:ViaService": {"ec2.local.amazonaws.com"}}), NotApplicable},
		{"describe directly", req(alice, "kms:DescribeKey"), Allow},
		{"get key policy directly", req(rootUser, "kms:GetKeyPolicy"), Allow},
		{"list grants directly", req(alice, "kms:ListGrants"), Allow},
		{"revoke grant directly", req(alice, "kms:RevokeGrant"), Allow},
		{"put key policy", req(rootUser, "kms:PutKeyPolicy"), NotApplicable},
		{"schedule deletion", withCtx(req(rootUser, "kms:ScheduleKeyDeletion"), via), NotApplicable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := d.Evaluate(tt.r); got != tt.want {
				t.Errorf("Evaluate = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAWSManagedKeyPolicyOtherService(t *testing.T) {
	d := mustParse(t, AWSManagedKeyPolicy(account, "s3", "eu-west-1"))
	if d.ID != "auto-s3-2" || !strings.Contains(d.Statements[0].Sid, "through S3") {
		t.Errorf("unexpected id %q and sid %q", d.ID, d.Statements[0].Sid)
	}
}

func TestDefaultsEscapeInput(t *testing.T) {
	for _, doc := range []string{DefaultKeyPolicy(`a"b`), AWSManagedKeyPolicy(`a"b`, `x\y`, "\n")} {
		if !json.Valid([]byte(doc)) {
			t.Errorf("not valid JSON: %s", doc)
		}
	}
}

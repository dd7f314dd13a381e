package policy

import (
	"encoding/json"
	"fmt"
	"strings"
)

// The policies below are laid out as AWS prints them in GetKeyPolicy.

const defaultKeyPolicy = `{
  "Version" : "2012-10-17",
  "Id" : "key-default-1",
  "Statement" : [ {
    "Sid" : "Enable IAM User Permissions",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : %[1]s
    },
    "Action" : "kms:*",
    "Resource" : "*"
  } ]
}`

const awsManagedKeyPolicy = `{
  "Version" : "2012-10-17",
  "Id" : %[1]s,
  "Statement" : [ {
    "Sid" : %[2]s,
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "*"
    },
    "Action" : [ "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant", "kms:DescribeKey" ],
    "Resource" : "*",
    "Condition" : {
      "StringEquals" : {
        "kms:CallerAccount" : %[3]s,
        "kms:ViaService" : %[4]s
      }
    }
  }, {
    "Sid" : "Allow direct access to key metadata to the account",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : %[5]s
    },
    "Action" : [ "kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant" ],
    "Resource" : "*"
  } ]
}`

// DefaultKeyPolicy is the policy AWS gives a key created by CreateKey without
// a Policy: the account root (and so, by delegation, every principal of the
// account) may do everything.
func DefaultKeyPolicy(account string) string {
	return fmt.Sprintf(defaultKeyPolicy, quote(rootARN(account)))
}

// AWSManagedKeyPolicy is the policy of an AWS managed key such as aws/ebs
// (service "ec2"): principals of the account may use the key through the
// service in region, and the account root may read its metadata.
func AWSManagedKeyPolicy(account, service, region string) string {
	name, id := managedKeyNames(service)
	sid := fmt.Sprintf("Allow access through %s for all principals in the account that are authorized to use %s", name, name)
	via := fmt.Sprintf("%s.%s.amazonaws.com", service, region)
	return fmt.Sprintf(awsManagedKeyPolicy,
		quote(id), quote(sid), quote(account), quote(via), quote(rootARN(account)))
}

// managedKeyNames returns the display name of a service in the statement Sid
// and the policy Id AWS uses, e.g. "EBS" and "auto-ebs-2" for "ec2".
func managedKeyNames(service string) (name, id string) {
	if service == "ec2" {
		return "EBS", "auto-ebs-2"
	}
	return strings.ToUpper(service), "auto-" + service + "-2"
}

func rootARN(account string) string { return "arn:aws:iam::" + account + ":root" }

// quote returns s as a JSON string literal.
func quote(s string) string {
	b, err := json.Marshal(s)
	if err != nil { // cannot happen for a string
		return `""`
	}
	return string(b)
}

package main

// `ebs iam ...`: the access keys that sign requests to the daemon's AWS
// endpoint (ebs serve --listen), with the AWS CLI's iam commands.

func iamUserName() param {
	return str("UserName").doc("the IAM user the key belongs to; requests signed with it act as arn:aws:iam::<account>:user/NAME").req()
}

func iamAccessKeyID() param {
	return str("AccessKeyId").doc("the access key id, AKIA...").req()
}

func iamGroup() groupSpec {
	return groupSpec{
		name:  "iam",
		short: "Manage the access keys of the AWS endpoint (AWS IAM)",
		long: `Access keys for the daemon's AWS endpoint ('ebs serve --listen 127.0.0.1:4566'),
where the AWS SDKs and the AWS CLI sign their requests with Signature Version 4.

A request signed with a key of user NAME acts as arn:aws:iam::<account>:user/NAME:
the same principal as the unix user NAME on the socket, for key policies,
grants and the audit trail. Each user may have two keys. The secret is printed
only by create-access-key. Only root manages access keys.`,
		commands: []commandSpec{
			{operation: "CreateAccessKey", short: "Create an access key and print its secret (shown only once)",
				example: `  ebs iam create-access-key --user-name alice
  ebs iam create-access-key --user-name alice --query 'AccessKey.[AccessKeyId,SecretAccessKey]' --output text`,
				params: []param{iamUserName()}},
			{operation: "ListAccessKeys", short: "List the access keys of a user (without secrets)",
				example: `  ebs iam list-access-keys --user-name alice --output table`,
				params:  []param{iamUserName()}},
			{operation: "UpdateAccessKey", short: "Make an access key Active or Inactive (an Inactive key signs nothing)",
				example: `  ebs iam update-access-key --user-name alice --access-key-id AKIAIOSFODNN7EXAMPLE --status Inactive`,
				params: []param{iamUserName(), iamAccessKeyID(),
					str("Status").doc("Active or Inactive").req()}},
			{operation: "DeleteAccessKey", short: "Delete an access key",
				example: `  ebs iam delete-access-key --user-name alice --access-key-id AKIAIOSFODNN7EXAMPLE`,
				params:  []param{iamUserName(), iamAccessKeyID()}},
		},
	}
}

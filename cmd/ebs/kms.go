package main

// `ebs kms ...`: the AWS CLI's kms commands, one spec each.

const kmsKeyIDDoc = "the KMS key: key ID, key ARN, alias name (alias/NAME) or alias ARN"

func kmsKeyID() param       { return str("KeyId").doc(kmsKeyIDDoc) }
func kmsGrantTokens() param { return list("GrantTokens").doc("grant tokens") }
func kmsLimit() param       { return integer("Limit").doc("the maximum number of items to return (1-1000)") }
func kmsMarker() param      { return str("Marker").doc("the NextMarker of the previous page") }
func kmsAlgorithm() param {
	return str("EncryptionAlgorithm").doc("the encryption algorithm (SYMMETRIC_DEFAULT)")
}
func kmsAliasName() param { return str("AliasName").doc("the alias, alias/NAME").req() }
func kmsTargetKeyID() param {
	return str("TargetKeyId").doc("the key ID or key ARN the alias points to").req()
}
func kmsBypass() param {
	return boolean("BypassPolicyLockoutSafetyCheck").doc("skip the policy lockout safety check")
}
func kmsTags() param {
	return structList("Tags", "TagKey", "TagValue").doc("tags, TagKey=k,TagValue=v")
}
func kmsPolicyName() param {
	return str("PolicyName").doc(`the policy name; the only one is "default"`)
}
func kmsContext(m string) param {
	return stringMap(m).doc("the encryption context (authenticated data), required again to decrypt")
}

// kmsKeyOnly is a command whose only flag is --key-id.
func kmsKeyOnly(op, short, example string) commandSpec {
	return commandSpec{operation: op, short: short, example: example, params: []param{kmsKeyID().req()}}
}

func kmsGroup() groupSpec {
	var cmds []commandSpec
	cmds = append(cmds, kmsKeyCommands()...)
	cmds = append(cmds, kmsAliasCommands()...)
	cmds = append(cmds, kmsCryptoCommands()...)
	cmds = append(cmds, kmsRotationCommands()...)
	cmds = append(cmds, kmsPolicyCommands()...)
	cmds = append(cmds, kmsGrantCommands()...)
	cmds = append(cmds, kmsTagCommands()...)
	return groupSpec{
		name:  "kms",
		short: "Manage KMS keys and encrypt with them (AWS KMS)",
		long: `The AWS KMS API of the ebs daemon, with the AWS CLI's commands and flags.

Binary parameters (--plaintext, --ciphertext-blob) take base64 text, or
fileb://PATH to send the raw bytes of a file; binary output (CiphertextBlob,
Plaintext) is base64. Any other parameter may be read from a file with
file://PATH.`,
		commands: cmds,
	}
}

func kmsKeyCommands() []commandSpec {
	return []commandSpec{
		{operation: "CreateKey", short: "Create a KMS key",
			example: `  ebs kms create-key --description "app data key"
  ebs kms create-key --description "app data key" --policy file://policy.json --tags TagKey=team,TagValue=storage`,
			params: []param{str("Description").doc("a description of the key"),
				str("Policy").doc("the key policy JSON, usually file://policy.json"),
				str("KeyUsage").doc("ENCRYPT_DECRYPT (default)"), str("KeySpec").doc("SYMMETRIC_DEFAULT (default)"),
				str("Origin").doc("AWS_KMS (default)"), kmsBypass(), kmsTags()}},
		{operation: "DescribeKey", short: "Show the metadata of a KMS key",
			example: `  ebs kms describe-key --key-id alias/app
  ebs kms describe-key --key-id 1234abcd-12ab-34cd-56ef-1234567890ab --query KeyMetadata.KeyState --output text`,
			params: []param{kmsKeyID().req(), kmsGrantTokens()}},
		{operation: "ListKeys", short: "List the KMS keys",
			example: `  ebs kms list-keys
  ebs kms list-keys --limit 10 --query 'Keys[].KeyId' --output text`,
			params: []param{kmsLimit(), kmsMarker()}},
		kmsKeyOnly("EnableKey", "Enable a KMS key", `  ebs kms enable-key --key-id alias/app`),
		kmsKeyOnly("DisableKey", "Disable a KMS key: it can no longer encrypt or decrypt",
			`  ebs kms disable-key --key-id alias/app`),
		{operation: "ScheduleKeyDeletion", short: "Schedule the deletion of a KMS key after a waiting period",
			long: `Schedule the deletion of a KMS key after a waiting period (7-30 days); until
then the key is disabled (PendingDeletion) and cancel-key-deletion can save it.
Once deleted, whatever it encrypted can never be decrypted again.

The daemon refuses to schedule the deletion of a key that still protects
volumes or snapshots, and lists them: re-encrypt them under another key first
(copy-snapshot --kms-key-id, rewrap-snapshot), delete them, or give --force
(our extension, sent as "Force": true) to schedule the deletion anyway.`,
			example: `  ebs kms schedule-key-deletion --key-id 1234abcd-12ab-34cd-56ef-1234567890ab --pending-window-in-days 7
  ebs kms schedule-key-deletion --key-id alias/old --force     # even though volumes or snapshots use it`,
			params: []param{kmsKeyID().req(), integer("PendingWindowInDays").doc("the waiting period in days, 7-30 (default 30)"),
				boolean("Force").doc("schedule the deletion even of a key that still protects volumes or snapshots")}},
		kmsKeyOnly("CancelKeyDeletion", "Cancel the scheduled deletion of a KMS key (it stays disabled)",
			`  ebs kms cancel-key-deletion --key-id 1234abcd-12ab-34cd-56ef-1234567890ab`),
		{operation: "UpdateKeyDescription", short: "Change the description of a KMS key",
			example: `  ebs kms update-key-description --key-id alias/app --description "app data key, 2026"`,
			params:  []param{kmsKeyID().req(), str("Description").doc("the new description").req()}},
	}
}

func kmsAliasCommands() []commandSpec {
	return []commandSpec{
		{operation: "CreateAlias", short: "Create an alias for a KMS key",
			example: `  ebs kms create-alias --alias-name alias/app --target-key-id 1234abcd-12ab-34cd-56ef-1234567890ab`,
			params:  []param{kmsAliasName(), kmsTargetKeyID()}},
		{operation: "UpdateAlias", short: "Point an alias at another KMS key",
			example: `  ebs kms update-alias --alias-name alias/app --target-key-id 0987dcba-09fe-87dc-65ba-ab0987654321`,
			params:  []param{kmsAliasName(), kmsTargetKeyID()}},
		{operation: "DeleteAlias", short: "Delete an alias (the key stays)",
			example: `  ebs kms delete-alias --alias-name alias/app`,
			params:  []param{kmsAliasName()}},
		{operation: "ListAliases", short: "List the aliases, of all keys or of one",
			example: `  ebs kms list-aliases
  ebs kms list-aliases --key-id 1234abcd-12ab-34cd-56ef-1234567890ab --output table`,
			params: []param{kmsKeyID(), kmsLimit(), kmsMarker()}},
	}
}

func kmsCryptoCommands() []commandSpec {
	dataKey := func(op, short, example string) commandSpec {
		return commandSpec{operation: op, short: short, example: example, params: []param{kmsKeyID().req(),
			str("KeySpec").doc("AES_256 or AES_128 (or give --number-of-bytes)"),
			integer("NumberOfBytes").doc("the length of the data key in bytes, 1-1024"),
			kmsContext("EncryptionContext"), kmsGrantTokens()}}
	}
	return []commandSpec{
		{operation: "Encrypt", short: "Encrypt up to 4096 bytes under a KMS key",
			example: `  ebs kms encrypt --key-id alias/app --plaintext fileb://secret.txt --query CiphertextBlob --output text | base64 -d > secret.enc
  ebs kms encrypt --key-id alias/app --plaintext "$(printf hello | base64)" --encryption-context app=web,env=prod`,
			params: []param{kmsKeyID().req(), blob("Plaintext").doc("the data to encrypt").req(),
				kmsContext("EncryptionContext"), kmsGrantTokens(), kmsAlgorithm()}},
		{operation: "Decrypt", short: "Decrypt a ciphertext made by encrypt or generate-data-key",
			example: `  ebs kms decrypt --ciphertext-blob fileb://secret.enc --query Plaintext --output text | base64 -d
  ebs kms decrypt --ciphertext-blob fileb://secret.enc --encryption-context app=web,env=prod --key-id alias/app`,
			params: []param{blob("CiphertextBlob").doc("the ciphertext").req(),
				kmsKeyID().doc("the key that must have encrypted it (optional: the ciphertext names it)"),
				kmsContext("EncryptionContext"), kmsGrantTokens(), kmsAlgorithm()}},
		{operation: "ReEncrypt", short: "Decrypt and encrypt again under another key or context, inside the KMS",
			example: `  ebs kms re-encrypt --ciphertext-blob fileb://secret.enc --destination-key-id alias/new --query CiphertextBlob --output text | base64 -d > secret.new.enc`,
			params: []param{blob("CiphertextBlob").doc("the ciphertext").req(),
				kmsContext("SourceEncryptionContext"), str("SourceKeyId").doc("the key that encrypted it (optional)"),
				str("DestinationKeyId").doc("the key to encrypt under").req(), kmsContext("DestinationEncryptionContext"),
				str("SourceEncryptionAlgorithm"), str("DestinationEncryptionAlgorithm"), kmsGrantTokens()}},
		dataKey("GenerateDataKey", "Make a data key: its plaintext and its copy encrypted under a KMS key",
			`  ebs kms generate-data-key --key-id alias/app --key-spec AES_256
  ebs kms generate-data-key --key-id alias/app --number-of-bytes 64 --encryption-context aws:ebs:id=vol-0123456789abcdef0`),
		dataKey("GenerateDataKeyWithoutPlaintext", "Make a data key and return only its encrypted copy",
			`  ebs kms generate-data-key-without-plaintext --key-id alias/aws/ebs --number-of-bytes 64 --encryption-context aws:ebs:id=vol-0123456789abcdef0`),
		{operation: "GenerateRandom", short: "Return random bytes",
			example: `  ebs kms generate-random --number-of-bytes 32 --query Plaintext --output text | base64 -d > random.bin`,
			params:  []param{integer("NumberOfBytes").doc("how many bytes, 1-1024")}},
	}
}

func kmsRotationCommands() []commandSpec {
	return []commandSpec{
		{operation: "EnableKeyRotation", short: "Turn on automatic rotation of a KMS key's material",
			example: `  ebs kms enable-key-rotation --key-id alias/app --rotation-period-in-days 90`,
			params:  []param{kmsKeyID().req(), integer("RotationPeriodInDays").doc("days between rotations, 90-2560 (default 365)")}},
		kmsKeyOnly("DisableKeyRotation", "Turn off automatic rotation of a KMS key",
			`  ebs kms disable-key-rotation --key-id alias/app`),
		kmsKeyOnly("GetKeyRotationStatus", "Show whether a KMS key rotates, and when next",
			`  ebs kms get-key-rotation-status --key-id alias/app`),
		kmsKeyOnly("RotateKeyOnDemand", "Rotate a KMS key's material now",
			`  ebs kms rotate-key-on-demand --key-id alias/app`),
		{operation: "ListKeyRotations", short: "List the rotations of a KMS key",
			example: `  ebs kms list-key-rotations --key-id alias/app --output table`,
			params: []param{kmsKeyID().req(), str("IncludeKeyMaterial").doc("ALL_KEY_MATERIAL or ROTATIONS_ONLY"),
				kmsLimit(), kmsMarker()}},
	}
}

func kmsPolicyCommands() []commandSpec {
	return []commandSpec{
		{operation: "GetKeyPolicy", short: "Show the key policy of a KMS key",
			example: `  ebs kms get-key-policy --key-id alias/app --policy-name default --query Policy --output text > policy.json`,
			params:  []param{kmsKeyID().req(), kmsPolicyName()}},
		{operation: "PutKeyPolicy", short: "Replace the key policy of a KMS key",
			example: `  ebs kms put-key-policy --key-id alias/app --policy-name default --policy file://policy.json`,
			params: []param{kmsKeyID().req(), kmsPolicyName(),
				str("Policy").doc("the key policy JSON, usually file://policy.json").req(), kmsBypass()}},
		{operation: "ListKeyPolicies", short: "List the names of a KMS key's policies",
			example: `  ebs kms list-key-policies --key-id alias/app`,
			params:  []param{kmsKeyID().req(), kmsLimit(), kmsMarker()}},
	}
}

func kmsGrantCommands() []commandSpec {
	return []commandSpec{
		{operation: "CreateGrant", short: "Allow a principal to use a KMS key for some operations",
			example: `  ebs kms create-grant --key-id alias/app --grantee-principal arn:aws:iam::000000000000:role/app \
      --operations Decrypt,GenerateDataKeyWithoutPlaintext \
      --constraints 'EncryptionContextSubset={aws:ebs:id=vol-0123456789abcdef0}'`,
			params: []param{kmsKeyID().req(), str("GranteePrincipal").doc("the principal that gets the permissions"),
				str("RetiringPrincipal").doc("the principal that may retire the grant"),
				list("Operations").doc("the operations allowed, e.g. Decrypt,Encrypt").req(),
				structure("Constraints", "EncryptionContextSubset", "EncryptionContextEquals").
					doc("encryption context constraints, EncryptionContextSubset={k1=v1,k2=v2}"),
				kmsGrantTokens(), str("Name").doc("a name for the grant")}},
		{operation: "ListGrants", short: "List the grants of a KMS key",
			example: `  ebs kms list-grants --key-id alias/app --output table`,
			params: []param{kmsKeyID().req(), str("GrantId").doc("only this grant"),
				str("GranteePrincipal").doc("only grants to this principal"), kmsLimit(), kmsMarker()}},
		{operation: "RetireGrant", short: "Retire a grant (as its retiring principal)",
			example: `  ebs kms retire-grant --key-id alias/app --grant-id 0c237476b39f8bc44e45212e08498fbe3151305030726c0590dd8d3e9f3d6a60`,
			params: []param{str("GrantToken").doc("the grant token"), kmsKeyID(),
				str("GrantId").doc("the grant ID (with --key-id)")}},
		{operation: "RevokeGrant", short: "Revoke a grant (as a key administrator)",
			example: `  ebs kms revoke-grant --key-id alias/app --grant-id 0c237476b39f8bc44e45212e08498fbe3151305030726c0590dd8d3e9f3d6a60`,
			params:  []param{kmsKeyID().req(), str("GrantId").doc("the grant ID").req()}},
	}
}

func kmsTagCommands() []commandSpec {
	return []commandSpec{
		{operation: "TagResource", short: "Add or change tags of a KMS key",
			example: `  ebs kms tag-resource --key-id alias/app --tags TagKey=team,TagValue=storage --tags TagKey=env,TagValue=prod`,
			params:  []param{kmsKeyID().req(), kmsTags().req()}},
		{operation: "UntagResource", short: "Remove tags from a KMS key",
			example: `  ebs kms untag-resource --key-id alias/app --tag-keys team,env`,
			params:  []param{kmsKeyID().req(), list("TagKeys").doc("the tag keys to remove").req()}},
		{operation: "ListResourceTags", short: "List the tags of a KMS key",
			example: `  ebs kms list-resource-tags --key-id alias/app --output text`,
			params:  []param{kmsKeyID().req(), kmsLimit(), kmsMarker()}},
	}
}

package kmsclient

import "context"

// KMS is what encrypted volumes and snapshots need from a key management
// service: the envelope operations EBS calls, named after the AWS calls.
type KMS interface {
	GenerateDataKey(ctx context.Context, in *GenerateDataKeyInput) (*GenerateDataKeyOutput, error)
	GenerateDataKeyWithoutPlaintext(ctx context.Context, in *GenerateDataKeyInput) (*GenerateDataKeyOutput, error)
	Decrypt(ctx context.Context, in *DecryptInput) (*DecryptOutput, error)
	ReEncrypt(ctx context.Context, in *ReEncryptInput) (*ReEncryptOutput, error)
	DescribeKey(ctx context.Context, in *KeyIDInput) (*KeyMetadataOutput, error)
	CreateGrant(ctx context.Context, in *CreateGrantInput) (*CreateGrantOutput, error)
}

// Service is the whole KMS API a front end (the CLI's unix-socket API, the
// AWS JSON 1.1 protocol) serves: KMS plus key management. The caller is taken
// from the context (WithCaller).
type Service interface {
	KMS
	Encrypt(ctx context.Context, in *EncryptInput) (*EncryptOutput, error)
	GenerateRandom(ctx context.Context, in *GenerateRandomInput) (*GenerateRandomOutput, error)

	CreateKey(ctx context.Context, in *CreateKeyInput) (*KeyMetadataOutput, error)
	ListKeys(ctx context.Context, in *ListInput) (*ListKeysOutput, error)
	EnableKey(ctx context.Context, in *KeyIDInput) (*Empty, error)
	DisableKey(ctx context.Context, in *KeyIDInput) (*Empty, error)
	UpdateKeyDescription(ctx context.Context, in *UpdateKeyDescriptionInput) (*Empty, error)
	ScheduleKeyDeletion(ctx context.Context, in *ScheduleKeyDeletionInput) (*ScheduleKeyDeletionOutput, error)
	CancelKeyDeletion(ctx context.Context, in *KeyIDInput) (*KeyIDOutput, error)

	CreateAlias(ctx context.Context, in *AliasInput) (*Empty, error)
	UpdateAlias(ctx context.Context, in *AliasInput) (*Empty, error)
	DeleteAlias(ctx context.Context, in *DeleteAliasInput) (*Empty, error)
	ListAliases(ctx context.Context, in *ListInput) (*ListAliasesOutput, error)

	EnableKeyRotation(ctx context.Context, in *EnableKeyRotationInput) (*Empty, error)
	DisableKeyRotation(ctx context.Context, in *KeyIDInput) (*Empty, error)
	GetKeyRotationStatus(ctx context.Context, in *KeyIDInput) (*GetKeyRotationStatusOutput, error)
	RotateKeyOnDemand(ctx context.Context, in *KeyIDInput) (*KeyIDOutput, error)
	ListKeyRotations(ctx context.Context, in *ListKeyRotationsInput) (*ListKeyRotationsOutput, error)

	GetKeyPolicy(ctx context.Context, in *GetKeyPolicyInput) (*GetKeyPolicyOutput, error)
	PutKeyPolicy(ctx context.Context, in *PutKeyPolicyInput) (*Empty, error)
	ListKeyPolicies(ctx context.Context, in *ListInput) (*ListKeyPoliciesOutput, error)

	ListGrants(ctx context.Context, in *ListGrantsInput) (*ListGrantsOutput, error)
	RetireGrant(ctx context.Context, in *RetireGrantInput) (*Empty, error)
	RevokeGrant(ctx context.Context, in *RevokeGrantInput) (*Empty, error)

	TagResource(ctx context.Context, in *TagResourceInput) (*Empty, error)
	UntagResource(ctx context.Context, in *UntagResourceInput) (*Empty, error)
	ListResourceTags(ctx context.Context, in *ListInput) (*ListResourceTagsOutput, error)
}

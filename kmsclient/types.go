package kmsclient

import "github.com/ebs-dev/ebs/internal/awstime"

// Request and response shapes of the KMS operations, with the member names of
// the AWS KMS API (JSON 1.1 protocol). Blobs are []byte, which encoding/json
// writes as base64, as AWS does; timestamps are epoch seconds.

// KeyMetadata describes a KMS key.
type KeyMetadata struct {
	AWSAccountID          string         `json:"AWSAccountId"`
	KeyID                 string         `json:"KeyId"`
	Arn                   string         `json:"Arn"`
	CreationDate          *awstime.Epoch `json:"CreationDate"`
	Enabled               bool           `json:"Enabled"`
	Description           string         `json:"Description"`
	KeyUsage              string         `json:"KeyUsage"`
	KeyState              string         `json:"KeyState"`
	DeletionDate          *awstime.Epoch `json:"DeletionDate,omitempty"`
	Origin                string         `json:"Origin"`
	KeyManager            string         `json:"KeyManager"`
	CustomerMasterKeySpec string         `json:"CustomerMasterKeySpec"`
	KeySpec               string         `json:"KeySpec"`
	EncryptionAlgorithms  []string       `json:"EncryptionAlgorithms"`
	MultiRegion           bool           `json:"MultiRegion"`
	PendingDeletionWindow int            `json:"PendingDeletionWindowInDays,omitempty"`
	CurrentKeyMaterialID  string         `json:"CurrentKeyMaterialId,omitempty"`
}

// Tag is a key tag.
type Tag struct {
	TagKey   string `json:"TagKey"`
	TagValue string `json:"TagValue"`
}

// CreateKeyInput is the CreateKey request.
type CreateKeyInput struct {
	Policy                         string `json:"Policy,omitempty"`
	Description                    string `json:"Description,omitempty"`
	KeyUsage                       string `json:"KeyUsage,omitempty"`
	KeySpec                        string `json:"KeySpec,omitempty"`
	CustomerMasterKeySpec          string `json:"CustomerMasterKeySpec,omitempty"`
	Origin                         string `json:"Origin,omitempty"`
	BypassPolicyLockoutSafetyCheck bool   `json:"BypassPolicyLockoutSafetyCheck,omitempty"`
	Tags                           []Tag  `json:"Tags,omitempty"`
	MultiRegion                    bool   `json:"MultiRegion,omitempty"`
}

// KeyMetadataOutput is the response of CreateKey and DescribeKey.
type KeyMetadataOutput struct {
	KeyMetadata *KeyMetadata `json:"KeyMetadata"`
}

// KeyIDInput is the request of every operation that takes only a KeyId.
type KeyIDInput struct {
	KeyID       string   `json:"KeyId"`
	GrantTokens []string `json:"GrantTokens,omitempty"`
}

// KeyIDOutput is the response of operations that answer only a KeyId.
type KeyIDOutput struct {
	KeyID string `json:"KeyId"`
}

// Empty is the response of operations that answer an empty body.
type Empty struct{}

// ListInput pages through a list.
type ListInput struct {
	KeyID  string `json:"KeyId,omitempty"`
	Limit  int    `json:"Limit,omitempty"`
	Marker string `json:"Marker,omitempty"`
}

// KeyListEntry is one key of ListKeys.
type KeyListEntry struct {
	KeyID  string `json:"KeyId"`
	KeyArn string `json:"KeyArn"`
}

// ListKeysOutput is the ListKeys response.
type ListKeysOutput struct {
	Keys       []KeyListEntry `json:"Keys"`
	NextMarker string         `json:"NextMarker,omitempty"`
	Truncated  bool           `json:"Truncated"`
}

// UpdateKeyDescriptionInput is the UpdateKeyDescription request.
type UpdateKeyDescriptionInput struct {
	KeyID       string `json:"KeyId"`
	Description string `json:"Description"`
}

// ScheduleKeyDeletionInput is the ScheduleKeyDeletion request.
type ScheduleKeyDeletionInput struct {
	KeyID               string `json:"KeyId"`
	PendingWindowInDays int    `json:"PendingWindowInDays,omitempty"`
	// Force schedules the deletion even of a key that still protects
	// volumes or snapshots (an ebs extension; AWS has no such guard).
	Force bool `json:"Force,omitempty"`
}

// ScheduleKeyDeletionOutput is the ScheduleKeyDeletion response.
type ScheduleKeyDeletionOutput struct {
	KeyID               string         `json:"KeyId"`
	DeletionDate        *awstime.Epoch `json:"DeletionDate"`
	KeyState            string         `json:"KeyState"`
	PendingWindowInDays int            `json:"PendingWindowInDays"`
}

// AliasInput is the CreateAlias and UpdateAlias request.
type AliasInput struct {
	AliasName   string `json:"AliasName"`
	TargetKeyID string `json:"TargetKeyId"`
}

// DeleteAliasInput is the DeleteAlias request.
type DeleteAliasInput struct {
	AliasName string `json:"AliasName"`
}

// AliasListEntry is one alias of ListAliases.
type AliasListEntry struct {
	AliasName       string         `json:"AliasName"`
	AliasArn        string         `json:"AliasArn"`
	TargetKeyID     string         `json:"TargetKeyId,omitempty"`
	CreationDate    *awstime.Epoch `json:"CreationDate,omitempty"`
	LastUpdatedDate *awstime.Epoch `json:"LastUpdatedDate,omitempty"`
}

// ListAliasesOutput is the ListAliases response.
type ListAliasesOutput struct {
	Aliases    []AliasListEntry `json:"Aliases"`
	NextMarker string           `json:"NextMarker,omitempty"`
	Truncated  bool             `json:"Truncated"`
}

// EncryptInput is the Encrypt request.
type EncryptInput struct {
	KeyID               string            `json:"KeyId"`
	Plaintext           []byte            `json:"Plaintext"`
	EncryptionContext   map[string]string `json:"EncryptionContext,omitempty"`
	GrantTokens         []string          `json:"GrantTokens,omitempty"`
	EncryptionAlgorithm string            `json:"EncryptionAlgorithm,omitempty"`
}

// EncryptOutput is the Encrypt response.
type EncryptOutput struct {
	CiphertextBlob      []byte `json:"CiphertextBlob"`
	KeyID               string `json:"KeyId"`
	EncryptionAlgorithm string `json:"EncryptionAlgorithm"`
}

// DecryptInput is the Decrypt request.
type DecryptInput struct {
	CiphertextBlob      []byte            `json:"CiphertextBlob"`
	EncryptionContext   map[string]string `json:"EncryptionContext,omitempty"`
	GrantTokens         []string          `json:"GrantTokens,omitempty"`
	KeyID               string            `json:"KeyId,omitempty"`
	EncryptionAlgorithm string            `json:"EncryptionAlgorithm,omitempty"`
}

// DecryptOutput is the Decrypt response.
type DecryptOutput struct {
	KeyID               string `json:"KeyId"`
	Plaintext           []byte `json:"Plaintext"`
	EncryptionAlgorithm string `json:"EncryptionAlgorithm"`
	KeyMaterialID       string `json:"KeyMaterialId"`
}

// ReEncryptInput is the ReEncrypt request.
type ReEncryptInput struct {
	CiphertextBlob                 []byte            `json:"CiphertextBlob"`
	SourceEncryptionContext        map[string]string `json:"SourceEncryptionContext,omitempty"`
	SourceKeyID                    string            `json:"SourceKeyId,omitempty"`
	DestinationKeyID               string            `json:"DestinationKeyId"`
	DestinationEncryptionContext   map[string]string `json:"DestinationEncryptionContext,omitempty"`
	SourceEncryptionAlgorithm      string            `json:"SourceEncryptionAlgorithm,omitempty"`
	DestinationEncryptionAlgorithm string            `json:"DestinationEncryptionAlgorithm,omitempty"`
	GrantTokens                    []string          `json:"GrantTokens,omitempty"`
}

// ReEncryptOutput is the ReEncrypt response.
type ReEncryptOutput struct {
	CiphertextBlob                 []byte `json:"CiphertextBlob"`
	SourceKeyID                    string `json:"SourceKeyId"`
	KeyID                          string `json:"KeyId"`
	SourceEncryptionAlgorithm      string `json:"SourceEncryptionAlgorithm"`
	DestinationEncryptionAlgorithm string `json:"DestinationEncryptionAlgorithm"`
	SourceKeyMaterialID            string `json:"SourceKeyMaterialId"`
	DestinationKeyMaterialID       string `json:"DestinationKeyMaterialId"`
}

// GenerateDataKeyInput is the GenerateDataKey and
// GenerateDataKeyWithoutPlaintext request.
type GenerateDataKeyInput struct {
	KeyID             string            `json:"KeyId"`
	EncryptionContext map[string]string `json:"EncryptionContext,omitempty"`
	NumberOfBytes     int               `json:"NumberOfBytes,omitempty"`
	KeySpec           string            `json:"KeySpec,omitempty"`
	GrantTokens       []string          `json:"GrantTokens,omitempty"`
}

// GenerateDataKeyOutput is the GenerateDataKey response. Plaintext is nil for
// GenerateDataKeyWithoutPlaintext.
type GenerateDataKeyOutput struct {
	CiphertextBlob []byte `json:"CiphertextBlob"`
	Plaintext      []byte `json:"Plaintext,omitempty"`
	KeyID          string `json:"KeyId"`
	KeyMaterialID  string `json:"KeyMaterialId"`
}

// GenerateRandomInput is the GenerateRandom request.
type GenerateRandomInput struct {
	NumberOfBytes int `json:"NumberOfBytes"`
}

// GenerateRandomOutput is the GenerateRandom response.
type GenerateRandomOutput struct {
	Plaintext []byte `json:"Plaintext"`
}

// EnableKeyRotationInput is the EnableKeyRotation request.
type EnableKeyRotationInput struct {
	KeyID                string `json:"KeyId"`
	RotationPeriodInDays int    `json:"RotationPeriodInDays,omitempty"`
}

// GetKeyRotationStatusOutput is the GetKeyRotationStatus response.
type GetKeyRotationStatusOutput struct {
	KeyRotationEnabled        bool           `json:"KeyRotationEnabled"`
	KeyID                     string         `json:"KeyId"`
	RotationPeriodInDays      int            `json:"RotationPeriodInDays,omitempty"`
	NextRotationDate          *awstime.Epoch `json:"NextRotationDate,omitempty"`
	OnDemandRotationStartDate *awstime.Epoch `json:"OnDemandRotationStartDate,omitempty"`
}

// ListKeyRotationsInput is the ListKeyRotations request.
type ListKeyRotationsInput struct {
	KeyID              string `json:"KeyId"`
	IncludeKeyMaterial string `json:"IncludeKeyMaterial,omitempty"`
	Limit              int    `json:"Limit,omitempty"`
	Marker             string `json:"Marker,omitempty"`
}

// RotationsListEntry is one rotation of ListKeyRotations.
type RotationsListEntry struct {
	KeyID            string         `json:"KeyId"`
	KeyMaterialID    string         `json:"KeyMaterialId"`
	KeyMaterialState string         `json:"KeyMaterialState"`
	RotationDate     *awstime.Epoch `json:"RotationDate"`
	RotationType     string         `json:"RotationType"`
}

// ListKeyRotationsOutput is the ListKeyRotations response.
type ListKeyRotationsOutput struct {
	Rotations  []RotationsListEntry `json:"Rotations"`
	NextMarker string               `json:"NextMarker,omitempty"`
	Truncated  bool                 `json:"Truncated"`
}

// GetKeyPolicyInput is the GetKeyPolicy request.
type GetKeyPolicyInput struct {
	KeyID      string `json:"KeyId"`
	PolicyName string `json:"PolicyName,omitempty"`
}

// GetKeyPolicyOutput is the GetKeyPolicy response.
type GetKeyPolicyOutput struct {
	Policy     string `json:"Policy"`
	PolicyName string `json:"PolicyName"`
}

// PutKeyPolicyInput is the PutKeyPolicy request.
type PutKeyPolicyInput struct {
	KeyID                          string `json:"KeyId"`
	PolicyName                     string `json:"PolicyName,omitempty"`
	Policy                         string `json:"Policy"`
	BypassPolicyLockoutSafetyCheck bool   `json:"BypassPolicyLockoutSafetyCheck,omitempty"`
}

// ListKeyPoliciesOutput is the ListKeyPolicies response.
type ListKeyPoliciesOutput struct {
	PolicyNames []string `json:"PolicyNames"`
	NextMarker  string   `json:"NextMarker,omitempty"`
	Truncated   bool     `json:"Truncated"`
}

// GrantConstraints restrict a grant to some encryption contexts.
type GrantConstraints struct {
	EncryptionContextSubset map[string]string `json:"EncryptionContextSubset,omitempty"`
	EncryptionContextEquals map[string]string `json:"EncryptionContextEquals,omitempty"`
}

// CreateGrantInput is the CreateGrant request.
type CreateGrantInput struct {
	KeyID             string            `json:"KeyId"`
	GranteePrincipal  string            `json:"GranteePrincipal"`
	RetiringPrincipal string            `json:"RetiringPrincipal,omitempty"`
	Operations        []string          `json:"Operations"`
	Constraints       *GrantConstraints `json:"Constraints,omitempty"`
	GrantTokens       []string          `json:"GrantTokens,omitempty"`
	Name              string            `json:"Name,omitempty"`
}

// CreateGrantOutput is the CreateGrant response.
type CreateGrantOutput struct {
	GrantToken string `json:"GrantToken"`
	GrantID    string `json:"GrantId"`
}

// ListGrantsInput is the ListGrants request.
type ListGrantsInput struct {
	KeyID            string `json:"KeyId"`
	GrantID          string `json:"GrantId,omitempty"`
	GranteePrincipal string `json:"GranteePrincipal,omitempty"`
	Limit            int    `json:"Limit,omitempty"`
	Marker           string `json:"Marker,omitempty"`
}

// GrantListEntry is one grant of ListGrants.
type GrantListEntry struct {
	KeyID             string            `json:"KeyId"`
	GrantID           string            `json:"GrantId"`
	Name              string            `json:"Name,omitempty"`
	CreationDate      *awstime.Epoch    `json:"CreationDate"`
	GranteePrincipal  string            `json:"GranteePrincipal"`
	RetiringPrincipal string            `json:"RetiringPrincipal,omitempty"`
	IssuingAccount    string            `json:"IssuingAccount"`
	Operations        []string          `json:"Operations"`
	Constraints       *GrantConstraints `json:"Constraints,omitempty"`
}

// ListGrantsOutput is the ListGrants response.
type ListGrantsOutput struct {
	Grants     []GrantListEntry `json:"Grants"`
	NextMarker string           `json:"NextMarker,omitempty"`
	Truncated  bool             `json:"Truncated"`
}

// RetireGrantInput is the RetireGrant request.
type RetireGrantInput struct {
	GrantToken string `json:"GrantToken,omitempty"`
	KeyID      string `json:"KeyId,omitempty"`
	GrantID    string `json:"GrantId,omitempty"`
}

// RevokeGrantInput is the RevokeGrant request.
type RevokeGrantInput struct {
	KeyID   string `json:"KeyId"`
	GrantID string `json:"GrantId"`
}

// TagResourceInput is the TagResource request.
type TagResourceInput struct {
	KeyID string `json:"KeyId"`
	Tags  []Tag  `json:"Tags"`
}

// UntagResourceInput is the UntagResource request.
type UntagResourceInput struct {
	KeyID   string   `json:"KeyId"`
	TagKeys []string `json:"TagKeys"`
}

// ListResourceTagsOutput is the ListResourceTags response.
type ListResourceTagsOutput struct {
	Tags       []Tag  `json:"Tags"`
	NextMarker string `json:"NextMarker,omitempty"`
	Truncated  bool   `json:"Truncated"`
}

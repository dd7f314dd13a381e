package blockdev

import "github.com/ebs-dev/ebs/internal/awstime"

// Request and response shapes of the EC2 volume operations, with the member
// names of the EC2 API.

// CreateVolumeInput is the CreateVolume request.
type CreateVolumeInput struct {
	Size       int64  `json:"Size"`
	Encrypted  *bool  `json:"Encrypted,omitempty"`
	KmsKeyID   string `json:"KmsKeyId,omitempty"`
	SnapshotID string `json:"SnapshotId,omitempty"`
	VolumeType string `json:"VolumeType,omitempty"`
}

// Attachment is a volume's attachment to this host's mount.
type Attachment struct {
	VolumeID   string         `json:"VolumeId"`
	Device     string         `json:"Device"`
	State      string         `json:"State"`
	AttachTime *awstime.Epoch `json:"AttachTime"`
	InstanceID string         `json:"InstanceId"`
}

// VolumeInfo describes a volume (EC2's Volume).
type VolumeInfo struct {
	VolumeID            string         `json:"VolumeId"`
	Size                int64          `json:"Size"`
	SnapshotID          string         `json:"SnapshotId"`
	AvailabilityZone    string         `json:"AvailabilityZone"`
	State               string         `json:"State"`
	CreateTime          *awstime.Epoch `json:"CreateTime"`
	Attachments         []Attachment   `json:"Attachments"`
	Encrypted           bool           `json:"Encrypted"`
	KmsKeyID            string         `json:"KmsKeyId,omitempty"`
	VolumeType          string         `json:"VolumeType"`
	DataEncryptionKeyID string         `json:"DataEncryptionKeyId,omitempty"`
	AllocatedBytes      int64          `json:"AllocatedBytes"`
}

// DescribeVolumesInput is the DescribeVolumes request.
type DescribeVolumesInput struct {
	VolumeIDs []string `json:"VolumeIds,omitempty"`
}

// DescribeVolumesOutput is the DescribeVolumes response.
type DescribeVolumesOutput struct {
	Volumes []VolumeInfo `json:"Volumes"`
}

// VolumeIDInput is the request of operations that take one VolumeId.
type VolumeIDInput struct {
	VolumeID string `json:"VolumeId"`
}

// ModifyVolumeInput is the ModifyVolume request. Encrypted is accepted only
// to explain that a volume cannot be encrypted in place.
type ModifyVolumeInput struct {
	VolumeID   string `json:"VolumeId"`
	Size       *int64 `json:"Size,omitempty"`
	VolumeType string `json:"VolumeType,omitempty"`
	Encrypted  *bool  `json:"Encrypted,omitempty"`
	KmsKeyID   string `json:"KmsKeyId,omitempty"`
}

// EncryptionByDefault is the answer of the encryption-by-default operations.
type EncryptionByDefault struct {
	EbsEncryptionByDefault bool `json:"EbsEncryptionByDefault"`
}

// DefaultKmsKey is the answer of the default-KMS-key operations.
type DefaultKmsKey struct {
	KmsKeyID string `json:"KmsKeyId"`
}

// ModifyDefaultKmsKeyInput is the ModifyEbsDefaultKmsKeyId request.
type ModifyDefaultKmsKeyInput struct {
	KmsKeyID string `json:"KmsKeyId"`
}

package snapshot

import "github.com/ebs-dev/ebs/internal/awstime"

// Snapshot is EC2's Snapshot, with the bytes it holds on its own.
type Snapshot struct {
	SnapshotID              string         `json:"SnapshotId"`
	VolumeID                string         `json:"VolumeId"`
	VolumeSize              int64          `json:"VolumeSize"`
	State                   string         `json:"State"`
	StateMessage            string         `json:"StateMessage,omitempty"`
	Progress                string         `json:"Progress"`
	StartTime               *awstime.Epoch `json:"StartTime"`
	Description             string         `json:"Description"`
	Encrypted               bool           `json:"Encrypted"`
	KmsKeyID                string         `json:"KmsKeyId,omitempty"`
	DataEncryptionKeyID     string         `json:"DataEncryptionKeyId,omitempty"`
	OwnerID                 string         `json:"OwnerId"`
	FullSnapshotSizeInBytes *int64         `json:"FullSnapshotSizeInBytes,omitempty"` // DescribeSnapshots only
	UniqueSizeInBytes       *int64         `json:"UniqueSizeInBytes,omitempty"`       // DescribeSnapshots only
	Tags                    []Tag          `json:"Tags,omitempty"`
}

// CreateSnapshotInput is the CreateSnapshot request.
type CreateSnapshotInput struct {
	VolumeID    string `json:"VolumeId"`
	Description string `json:"Description,omitempty"`
}

// Filter is an EC2 filter.
type Filter struct {
	Name   string   `json:"Name"`
	Values []string `json:"Values"`
}

// DescribeSnapshotsInput is the DescribeSnapshots request.
type DescribeSnapshotsInput struct {
	SnapshotIDs []string `json:"SnapshotIds,omitempty"`
	Filters     []Filter `json:"Filters,omitempty"`
}

// DescribeSnapshotsOutput is the DescribeSnapshots response.
type DescribeSnapshotsOutput struct {
	Snapshots []Snapshot `json:"Snapshots"`
}

// SnapshotIDInput is the request of operations that take one SnapshotId.
type SnapshotIDInput struct {
	SnapshotID string `json:"SnapshotId"`
}

// CopySnapshotInput is the CopySnapshot request.
type CopySnapshotInput struct {
	SourceSnapshotID string `json:"SourceSnapshotId"`
	SourceRegion     string `json:"SourceRegion,omitempty"`
	Encrypted        *bool  `json:"Encrypted,omitempty"`
	KmsKeyID         string `json:"KmsKeyId,omitempty"`
	Description      string `json:"Description,omitempty"`
}

// CopySnapshotOutput is the CopySnapshot response.
type CopySnapshotOutput struct {
	SnapshotID string `json:"SnapshotId"`
}

// RewrapSnapshotInput is the RewrapSnapshot request.
type RewrapSnapshotInput struct {
	SnapshotID string `json:"SnapshotId"`
	KmsKeyID   string `json:"KmsKeyId"`
}

// EncryptVolumeInput is the EncryptVolume request.
type EncryptVolumeInput struct {
	VolumeID string `json:"VolumeId"`
	KmsKeyID string `json:"KmsKeyId,omitempty"`
	Cleanup  bool   `json:"Cleanup,omitempty"`
}

// EncryptVolumeTask is the state of an encrypt-volume task.
type EncryptVolumeTask struct {
	SourceVolumeID      string `json:"SourceVolumeId"`
	SnapshotID          string `json:"SnapshotId"`
	EncryptedSnapshotID string `json:"EncryptedSnapshotId"`
	VolumeID            string `json:"VolumeId"`
	State               string `json:"State"`
	Progress            int    `json:"Progress"`
	Message             string `json:"Message,omitempty"`
}

// ListSnapshotBlocksInput is the EBS direct ListSnapshotBlocks request.
type ListSnapshotBlocksInput struct {
	SnapshotID         string `json:"SnapshotId"`
	MaxResults         int    `json:"MaxResults,omitempty"`
	NextToken          string `json:"NextToken,omitempty"`
	StartingBlockIndex int64  `json:"StartingBlockIndex,omitempty"`
}

// Block is one 512 KiB block of a snapshot.
type Block struct {
	BlockIndex int64  `json:"BlockIndex"`
	BlockToken string `json:"BlockToken"`
}

// ListSnapshotBlocksOutput is the ListSnapshotBlocks response.
type ListSnapshotBlocksOutput struct {
	Blocks     []Block        `json:"Blocks"`
	ExpiryTime *awstime.Epoch `json:"ExpiryTime"`
	VolumeSize int64          `json:"VolumeSize"`
	BlockSize  int            `json:"BlockSize"`
	NextToken  string         `json:"NextToken,omitempty"`
}

// ListChangedBlocksInput is the EBS direct ListChangedBlocks request.
type ListChangedBlocksInput struct {
	FirstSnapshotID    string `json:"FirstSnapshotId,omitempty"`
	SecondSnapshotID   string `json:"SecondSnapshotId"`
	MaxResults         int    `json:"MaxResults,omitempty"`
	NextToken          string `json:"NextToken,omitempty"`
	StartingBlockIndex int64  `json:"StartingBlockIndex,omitempty"`
}

// ChangedBlock is one 512 KiB block that differs between two snapshots.
type ChangedBlock struct {
	BlockIndex       int64  `json:"BlockIndex"`
	FirstBlockToken  string `json:"FirstBlockToken,omitempty"`
	SecondBlockToken string `json:"SecondBlockToken,omitempty"`
}

// ListChangedBlocksOutput is the ListChangedBlocks response.
type ListChangedBlocksOutput struct {
	ChangedBlocks []ChangedBlock `json:"ChangedBlocks"`
	ExpiryTime    *awstime.Epoch `json:"ExpiryTime"`
	VolumeSize    int64          `json:"VolumeSize"`
	BlockSize     int            `json:"BlockSize"`
	NextToken     string         `json:"NextToken,omitempty"`
}

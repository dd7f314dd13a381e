package snapshot

import "github.com/ebs-dev/ebs/internal/awstime"

// Request and response shapes of the EBS direct APIs that write snapshots
// and read their blocks, with the member names of the ebs service model.

// Tag is a snapshot tag.
type Tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// StartSnapshotInput is the StartSnapshot request.
type StartSnapshotInput struct {
	VolumeSize       int64  `json:"VolumeSize"`
	ParentSnapshotID string `json:"ParentSnapshotId,omitempty"`
	Encrypted        *bool  `json:"Encrypted,omitempty"`
	KmsKeyArn        string `json:"KmsKeyArn,omitempty"`
	Timeout          *int64 `json:"Timeout,omitempty"` // minutes, 10-4320, default 60
	ClientToken      string `json:"ClientToken,omitempty"`
	Description      string `json:"Description,omitempty"`
	Tags             []Tag  `json:"Tags,omitempty"`
}

// StartSnapshotOutput is the StartSnapshot response.
type StartSnapshotOutput struct {
	SnapshotID       string         `json:"SnapshotId"`
	Status           string         `json:"Status"`
	BlockSize        int            `json:"BlockSize"`
	VolumeSize       int64          `json:"VolumeSize"`
	KmsKeyArn        string         `json:"KmsKeyArn,omitempty"`
	SseType          string         `json:"SseType"`
	OwnerID          string         `json:"OwnerId"`
	StartTime        *awstime.Epoch `json:"StartTime"`
	ParentSnapshotID string         `json:"ParentSnapshotId,omitempty"`
	Description      string         `json:"Description,omitempty"`
	Tags             []Tag          `json:"Tags,omitempty"`
}

// PutSnapshotBlockInput is the PutSnapshotBlock request: one 512 KiB block
// and the base64 SHA-256 of its data.
type PutSnapshotBlockInput struct {
	SnapshotID        string
	BlockIndex        int64
	BlockData         []byte
	DataLength        int64
	Checksum          string
	ChecksumAlgorithm string
	Progress          *int64
}

// PutSnapshotBlockOutput is the PutSnapshotBlock response.
type PutSnapshotBlockOutput struct {
	Checksum          string
	ChecksumAlgorithm string
}

// CompleteSnapshotInput is the CompleteSnapshot request. Checksum, if set,
// is the LINEAR aggregate: the base64 SHA-256 of the concatenated SHA-256
// digests of the blocks put, in ascending block index order.
type CompleteSnapshotInput struct {
	SnapshotID                string
	ChangedBlocksCount        int64
	Checksum                  string
	ChecksumAlgorithm         string
	ChecksumAggregationMethod string
}

// CompleteSnapshotOutput is the CompleteSnapshot response.
type CompleteSnapshotOutput struct {
	Status string `json:"Status"`
}

// GetSnapshotBlockInput is the GetSnapshotBlock request.
type GetSnapshotBlockInput struct {
	SnapshotID string
	BlockIndex int64
	BlockToken string
}

// GetSnapshotBlockOutput is the GetSnapshotBlock response: the block's
// plaintext and the base64 SHA-256 of it.
type GetSnapshotBlockOutput struct {
	BlockData         []byte
	DataLength        int64
	Checksum          string
	ChecksumAlgorithm string
}

// Values of the EBS direct APIs.
const (
	BlockSizeDirect        = directBlockSize
	ChecksumSHA256         = "SHA256"
	AggregationLinear      = "LINEAR"
	sseKMS                 = "sse-kms"
	sseNone                = "none"
	uploadVolumeID         = "vol-ffffffff" // AWS's VolumeId of snapshots not made from a volume
	defaultTimeoutMinutes  = 60
	minTimeout, maxTimeout = 10, 4320
	// maxUploadGiB is the largest StartSnapshot volume: AWS allows 65536
	// GiB, but a snapshot here must restore to a volume (at most 16384 GiB).
	maxUploadGiB = 16384
)

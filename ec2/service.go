package ec2

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/ebs-dev/ebs/blockdev"
	"github.com/ebs-dev/ebs/fs"
	"github.com/ebs-dev/ebs/internal/awserr"
	"github.com/ebs-dev/ebs/internal/awstime"
	"github.com/ebs-dev/ebs/snapshot"
)

// Mounter shows attached volumes as files.
type Mounter interface {
	Add(name string, d fs.Device) error
	Remove(name string) error
}

// Service serves the EC2 volume operations.
type Service struct {
	vols     *blockdev.Manager
	snaps    *snapshot.Service
	mount    Mounter
	mountDir string
	log      *slog.Logger
}

// New returns a Service that shows attached volumes in mountDir.
func New(vols *blockdev.Manager, snaps *snapshot.Service, mount Mounter, mountDir string, log *slog.Logger) *Service {
	return &Service{vols: vols, snaps: snaps, mount: mount, mountDir: mountDir, log: log}
}

// Start attaches again the volumes that were attached when the daemon
// stopped. Volumes that cannot be (their key is disabled, say) are logged
// and left detached.
func (s *Service) Start(ctx context.Context) error {
	vols, err := s.vols.Reopen(ctx)
	if err != nil {
		s.log.Error("some volumes could not be attached again", "err", err)
	}
	for _, v := range vols {
		if err := s.mount.Add(v.ID(), v); err != nil {
			s.log.Error("mount volume", "volume", v.ID(), "err", err)
			if _, derr := s.vols.Detach(ctx, v.ID()); derr != nil {
				s.log.Error("detach volume", "volume", v.ID(), "err", derr)
			}
			continue
		}
		s.log.Info("volume attached again", "volume", v.ID(), "device", s.device(v.ID()))
	}
	return nil
}

func (s *Service) device(id string) string { return filepath.Join(s.mountDir, id) }

// CreateVolume makes a volume.
func (s *Service) CreateVolume(ctx context.Context, in *blockdev.CreateVolumeInput) (*blockdev.VolumeInfo, error) {
	if in.SnapshotID != "" {
		return s.snaps.CreateVolume(ctx, in)
	}
	return s.vols.Create(ctx, in)
}

// Snapshots is the snapshot catalogue.
func (s *Service) Snapshots() *snapshot.Service { return s.snaps }

// DescribeVolumes lists volumes.
func (s *Service) DescribeVolumes(ctx context.Context, in *blockdev.DescribeVolumesInput) (*blockdev.DescribeVolumesOutput, error) {
	return s.vols.Describe(ctx, in)
}

// DescribeVolumeStatus reports the volumes' status checks: impaired when a
// failed data sync disabled a volume's I/O.
func (s *Service) DescribeVolumeStatus(ctx context.Context, in *blockdev.DescribeVolumeStatusInput) (*blockdev.DescribeVolumeStatusOutput, error) {
	return s.vols.DescribeVolumeStatus(ctx, in)
}

// EnableVolumeIO enables the I/O of an impaired volume again.
func (s *Service) EnableVolumeIO(ctx context.Context, in *blockdev.VolumeIDInput) (*struct{}, error) {
	if err := requireID(in.VolumeID); err != nil {
		return nil, err
	}
	return &struct{}{}, s.vols.EnableVolumeIO(ctx, in.VolumeID)
}

// DeleteVolume deletes a detached volume.
func (s *Service) DeleteVolume(ctx context.Context, in *blockdev.VolumeIDInput) (*struct{}, error) {
	if err := requireID(in.VolumeID); err != nil {
		return nil, err
	}
	return &struct{}{}, s.vols.Delete(ctx, in.VolumeID)
}

// ModifyVolume changes a volume (never its encryption: see blockdev).
func (s *Service) ModifyVolume(ctx context.Context, in *blockdev.ModifyVolumeInput) (*ModifyVolumeOutput, error) {
	if err := requireID(in.VolumeID); err != nil {
		return nil, err
	}
	v, err := s.vols.Modify(ctx, in)
	if err != nil {
		return nil, err
	}
	return &ModifyVolumeOutput{VolumeModification: VolumeModification{
		VolumeID: v.VolumeID, ModificationState: "completed", TargetSize: v.Size, TargetVolumeType: v.VolumeType, Progress: 100,
	}}, nil
}

// ModifyVolumeOutput is the ModifyVolume response.
type ModifyVolumeOutput struct {
	VolumeModification VolumeModification `json:"VolumeModification"`
}

// VolumeModification is EC2's VolumeModification.
type VolumeModification struct {
	VolumeID          string `json:"VolumeId"`
	ModificationState string `json:"ModificationState"`
	TargetSize        int64  `json:"TargetSize"`
	TargetVolumeType  string `json:"TargetVolumeType"`
	Progress          int    `json:"Progress"`
}

// AttachOutput is the answer of AttachVolume and DetachVolume.
type AttachOutput struct {
	VolumeID   string         `json:"VolumeId"`
	State      string         `json:"State"`
	Device     string         `json:"Device"`
	AttachTime *awstime.Epoch `json:"AttachTime,omitempty"`
}

// AttachVolume unwraps the volume's key (through the KMS, as the caller)
// and makes <mount-dir>/<volume id> appear.
func (s *Service) AttachVolume(ctx context.Context, in *blockdev.VolumeIDInput) (*AttachOutput, error) {
	if err := requireID(in.VolumeID); err != nil {
		return nil, err
	}
	dev := s.device(in.VolumeID)
	v, err := s.vols.Attach(ctx, in.VolumeID, dev)
	if err != nil {
		return nil, err
	}
	if err := s.mount.Add(in.VolumeID, v); err != nil {
		if _, derr := s.vols.Detach(ctx, in.VolumeID); derr != nil {
			err = errors.Join(err, derr)
		}
		return nil, fmt.Errorf("attach %s: %w", in.VolumeID, err)
	}
	info, err := s.vols.Describe(ctx, &blockdev.DescribeVolumesInput{VolumeIDs: []string{in.VolumeID}})
	out := &AttachOutput{VolumeID: in.VolumeID, State: "attached", Device: dev}
	if err == nil && len(info.Volumes[0].Attachments) > 0 {
		out.AttachTime = info.Volumes[0].Attachments[0].AttachTime
	}
	return out, nil
}

// DetachVolume makes the volume's file disappear, waiting for I/O in
// flight, and drops its plaintext key. It refuses while the file is open
// (for example by a loop device), instead of losing data.
func (s *Service) DetachVolume(ctx context.Context, in *blockdev.VolumeIDInput) (*AttachOutput, error) {
	if err := requireID(in.VolumeID); err != nil {
		return nil, err
	}
	if s.vols.Attached(in.VolumeID) != nil {
		err := s.mount.Remove(in.VolumeID)
		if errors.Is(err, fs.ErrBusy) {
			return nil, awserr.New(blockdev.ErrVolumeInUse,
				"Volume %s is in use: %s is open (a loop device or a process holds it). Unmount it and detach the loop device first.",
				in.VolumeID, s.device(in.VolumeID))
		}
		if err != nil {
			return nil, err
		}
	}
	if _, err := s.vols.Detach(ctx, in.VolumeID); err != nil {
		return nil, err
	}
	return &AttachOutput{VolumeID: in.VolumeID, State: "detached", Device: s.device(in.VolumeID)}, nil
}

func requireID(id string) error {
	if id == "" {
		return awserr.New(blockdev.ErrMissingParameter, "The request must contain the parameter VolumeId.")
	}
	return nil
}

// Encryption by default.

// Empty is the request of operations that take no parameters.
type Empty struct{}

func (s *Service) GetEbsEncryptionByDefault(ctx context.Context, _ *Empty) (*blockdev.EncryptionByDefault, error) {
	return s.vols.GetEncryptionByDefault(ctx)
}

func (s *Service) EnableEbsEncryptionByDefault(ctx context.Context, _ *Empty) (*blockdev.EncryptionByDefault, error) {
	return s.vols.SetEncryptionByDefault(ctx, true)
}

func (s *Service) DisableEbsEncryptionByDefault(ctx context.Context, _ *Empty) (*blockdev.EncryptionByDefault, error) {
	return s.vols.SetEncryptionByDefault(ctx, false)
}

func (s *Service) GetEbsDefaultKmsKeyId(ctx context.Context, _ *Empty) (*blockdev.DefaultKmsKey, error) {
	return s.vols.GetDefaultKmsKey(ctx)
}

func (s *Service) ModifyEbsDefaultKmsKeyId(ctx context.Context, in *blockdev.ModifyDefaultKmsKeyInput) (*blockdev.DefaultKmsKey, error) {
	return s.vols.ModifyDefaultKmsKey(ctx, in)
}

func (s *Service) ResetEbsDefaultKmsKeyId(ctx context.Context, _ *Empty) (*blockdev.DefaultKmsKey, error) {
	return s.vols.ResetDefaultKmsKey(ctx)
}

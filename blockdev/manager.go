package blockdev

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/ebs-dev/ebs/blockdev/store"
	"github.com/ebs-dev/ebs/blockdev/xts"
	"github.com/ebs-dev/ebs/internal/awserr"
	"github.com/ebs-dev/ebs/internal/awstime"
	"github.com/ebs-dev/ebs/internal/clock"
	"github.com/ebs-dev/ebs/internal/kv"
	"github.com/ebs-dev/ebs/kmsclient"
)

// KMS is what volumes need from the key management service.
type KMS interface {
	GenerateDataKeyWithoutPlaintext(ctx context.Context, in *kmsclient.GenerateDataKeyInput) (*kmsclient.GenerateDataKeyOutput, error)
	Decrypt(ctx context.Context, in *kmsclient.DecryptInput) (*kmsclient.DecryptOutput, error)
	CreateGrant(ctx context.Context, in *kmsclient.CreateGrantInput) (*kmsclient.CreateGrantOutput, error)
	RetireGrant(ctx context.Context, in *kmsclient.RetireGrantInput) (*kmsclient.Empty, error)
	DescribeKey(ctx context.Context, in *kmsclient.KeyIDInput) (*kmsclient.KeyMetadataOutput, error)
	ReEncrypt(ctx context.Context, in *kmsclient.ReEncryptInput) (*kmsclient.ReEncryptOutput, error)
}

// Config configures a Manager.
type Config struct {
	DB      *kv.DB       // volume records and settings
	Store   *store.Store // blocks
	KMS     KMS
	Region  string
	Account string
	Clock   clock.Clock
	Logger  *slog.Logger
}

// Manager owns the volumes: their records, their data keys and, while
// attached, their data paths. Control-plane operations are serialised.
type Manager struct {
	cfg      Config
	mu       sync.Mutex
	attached map[string]*Volume
}

// NewManager returns a Manager.
func NewManager(cfg Config) *Manager {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Manager{cfg: cfg, attached: map[string]*Volume{}}
}

// Volume states.
const (
	stateAvailable = "available"
	stateInUse     = "in-use"
	stateCreating  = "creating"
)

// principal is who attached a volume, so that the daemon can attach it again
// as the same principal after a restart.
type principal struct {
	ARN, AccountID, PrincipalID, Type, UserName string
}

type volumeRecord struct {
	ID         string     `json:"id"`
	SizeGiB    int64      `json:"sizeGiB"`
	VolumeType string     `json:"volumeType"`
	Created    time.Time  `json:"created"`
	SnapshotID string     `json:"snapshotId,omitempty"`
	Encrypted  bool       `json:"encrypted"`
	KmsKeyArn  string     `json:"kmsKeyArn,omitempty"`
	WrappedKey []byte     `json:"wrappedKey,omitempty"` // the KMS ciphertext blob of the 64-byte XTS key
	DataKeyID  string     `json:"dataKeyId,omitempty"`  // DataEncryptionKeyId: the same along a lineage sharing the key
	Lineage    uint64     `json:"lineage"`
	Gen        uint64     `json:"gen"`
	State      string     `json:"state"`
	Device     string     `json:"device,omitempty"`
	AttachTime time.Time  `json:"attachTime,omitzero"`
	AttachedBy *principal `json:"attachedBy,omitempty"`
	GrantID    string     `json:"grantId,omitempty"`
	// The snapshot view a volume being created pins until its blocks are
	// copied (see StartRestore).
	RestoreFrom *ViewRef `json:"restoreFrom,omitempty"`
}

// ViewRef names a view of the block store: a lineage at a generation.
type ViewRef struct {
	Lineage uint64 `json:"lineage"`
	Gen     uint64 `json:"gen"`
}

func (r *volumeRecord) blocks() uint64 { return uint64(r.SizeGiB) << 30 / BlockSize }

const prefixVolume = "v/"

// headHolder pins a volume's lineage at store.HeadGen while the volume exists.
const headHolder = "head"

func (m *Manager) load(tx *kv.Txn, id string) (*volumeRecord, error) {
	raw, err := tx.Get([]byte(prefixVolume + id))
	if errors.Is(err, kv.ErrNotFound) {
		return nil, awserr.New(ErrVolumeNotFound, "The volume '%s' does not exist.", id)
	}
	if err != nil {
		return nil, err
	}
	r := new(volumeRecord)
	if err := json.Unmarshal(raw, r); err != nil {
		return nil, fmt.Errorf("volume record %s: %w", id, err)
	}
	return r, nil
}

func (m *Manager) save(tx *kv.Txn, r *volumeRecord) error {
	raw, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return tx.Set([]byte(prefixVolume+r.ID), raw)
}

// update loads a record, lets fn change it, and saves it durably.
func (m *Manager) update(id string, fn func(r *volumeRecord) error) (*volumeRecord, error) {
	var rec *volumeRecord
	err := m.cfg.DB.Update(func(tx *kv.Txn) error {
		r, err := m.load(tx, id)
		if err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
		rec = r
		return m.save(tx, r)
	})
	if err != nil {
		return nil, err
	}
	return rec, m.cfg.DB.Sync()
}

func (m *Manager) get(id string) (*volumeRecord, error) {
	var rec *volumeRecord
	err := m.cfg.DB.View(func(tx *kv.Txn) error {
		var err error
		rec, err = m.load(tx, id)
		return err
	})
	return rec, err
}

func newID(prefix string) string {
	b := make([]byte, 9)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)[:17]
}

var volumeTypes = []string{"gp3", "gp2", "io1", "io2", "st1", "sc1", "standard"}

// viaEC2 marks the caller's KMS calls as made through EC2, as AWS does: the
// audit trail shows invokedBy ec2.amazonaws.com and kms:ViaService policies
// (the aws/ebs key's) admit them.
func (m *Manager) viaEC2(ctx context.Context) context.Context {
	c, _ := kmsclient.CallerFrom(ctx)
	c.ViaService = "ec2." + m.cfg.Region + ".amazonaws.com"
	return kmsclient.WithCaller(ctx, c)
}

// Create makes a new, empty volume. An encrypted volume gets a 64-byte
// AES-256-XTS data key from GenerateDataKeyWithoutPlaintext under the CMK
// (or the default key), bound to {"aws:ebs:id": volume id}; only the
// wrapped key is kept.
func (m *Manager) Create(ctx context.Context, in *CreateVolumeInput) (*VolumeInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if in.Size == 0 {
		return nil, awserr.New(ErrMissingParameter, "The request must contain the parameter size (or a snapshot id).")
	}
	if in.Size < 1 || in.Size > 16384 {
		return nil, awserr.New(ErrInvalidParameterValue, "Volume size %d GiB is out of range: it must be between 1 and 16384.", in.Size)
	}
	if in.VolumeType == "" {
		in.VolumeType = "gp3"
	}
	if !slices.Contains(volumeTypes, in.VolumeType) {
		return nil, awserr.New(ErrInvalidParameterValue, "Value (%s) for parameter volumeType is invalid.", in.VolumeType)
	}
	enc, keyID, err := m.encryptionFor(in.Encrypted, in.KmsKeyID)
	if err != nil {
		return nil, err
	}
	r := &volumeRecord{ID: newID("vol-"), SizeGiB: in.Size, VolumeType: in.VolumeType, Created: m.cfg.Clock.Now(), Gen: 1, State: stateAvailable}
	if enc {
		if err := m.newDataKey(ctx, r, keyID); err != nil {
			return nil, err
		}
	}
	if err := m.saveNew(r, 0, 0); err != nil {
		return nil, err
	}
	return m.info(r), nil
}

// saveNew gives a new volume its lineage (reading through to parent's view
// at parentGen, if parent is not 0) and, in one transaction, pins it for the
// volume's head, pins the snapshot view it restores from (if any) and saves
// the record.
func (m *Manager) saveNew(r *volumeRecord, parent, parentGen uint64) error {
	err := m.cfg.DB.Update(func(tx *kv.Txn) error {
		id, err := m.cfg.Store.NewLineageInTx(tx, parent, parentGen)
		if err != nil {
			return err
		}
		r.Lineage = id
		if err := m.cfg.Store.PinInTx(tx, id, store.HeadGen, headHolder); err != nil {
			return err
		}
		if f := r.RestoreFrom; f != nil {
			if err := m.cfg.Store.PinInTx(tx, f.Lineage, f.Gen, restoreHolder(r.ID)); err != nil {
				return err
			}
		}
		return m.save(tx, r)
	})
	if err == nil {
		err = m.cfg.DB.Sync()
	}
	if err != nil {
		return fmt.Errorf("create volume: %w", err)
	}
	return nil
}

// newDataKey has the KMS generate the volume's data key under keyID.
func (m *Manager) newDataKey(ctx context.Context, r *volumeRecord, keyID string) error {
	out, err := m.cfg.KMS.GenerateDataKeyWithoutPlaintext(m.viaEC2(ctx), &kmsclient.GenerateDataKeyInput{
		KeyID: keyID, NumberOfBytes: xts.KeySize, EncryptionContext: map[string]string{"aws:ebs:id": r.ID},
	})
	if err != nil {
		return err
	}
	r.Encrypted, r.KmsKeyArn, r.WrappedKey, r.DataKeyID = true, out.KeyID, out.CiphertextBlob, newID("dek-")
	return nil
}

// encryptionFor applies AWS's rules: KmsKeyId needs Encrypted (unless
// encryption by default is on); encryption by default encrypts every new
// volume; no key named means the default key.
func (m *Manager) encryptionFor(encrypted *bool, kmsKeyID string) (bool, string, error) {
	def, err := m.defaults()
	if err != nil {
		return false, "", err
	}
	enc := def.ByDefault || (encrypted != nil && *encrypted)
	if kmsKeyID != "" && !enc {
		return false, "", awserr.New(ErrInvalidParameterDependency, "The parameter KmsKeyId requires the parameter Encrypted to be set.")
	}
	if kmsKeyID == "" {
		kmsKeyID = def.keyID()
	}
	return enc, kmsKeyID, nil
}

// Describe lists volumes, all or the ones named.
func (m *Manager) Describe(ctx context.Context, in *DescribeVolumesInput) (*DescribeVolumesOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := &DescribeVolumesOutput{Volumes: []VolumeInfo{}}
	if len(in.VolumeIDs) > 0 {
		for _, id := range in.VolumeIDs {
			r, err := m.get(id)
			if err != nil {
				return nil, err
			}
			out.Volumes = append(out.Volumes, *m.info(r))
		}
		return out, nil
	}
	err := m.cfg.DB.View(func(tx *kv.Txn) error {
		return tx.Scan([]byte(prefixVolume), nil, func(_, v []byte) error {
			r := new(volumeRecord)
			if err := json.Unmarshal(v, r); err != nil {
				return err
			}
			out.Volumes = append(out.Volumes, *m.info(r))
			return nil
		})
	})
	return out, err
}

func (m *Manager) info(r *volumeRecord) *VolumeInfo {
	v := &VolumeInfo{
		VolumeID: r.ID, Size: r.SizeGiB, SnapshotID: r.SnapshotID, AvailabilityZone: m.cfg.Region + "a",
		State: r.State, CreateTime: awstime.New(r.Created), Attachments: []Attachment{}, Encrypted: r.Encrypted,
		KmsKeyID: r.KmsKeyArn, VolumeType: r.VolumeType, DataEncryptionKeyID: r.DataKeyID,
	}
	if vol := m.attached[r.ID]; vol != nil {
		v.AllocatedBytes = vol.AllocatedBytes()
	}
	if r.State == stateInUse {
		v.Attachments = append(v.Attachments, Attachment{
			VolumeID: r.ID, Device: r.Device, State: "attached", AttachTime: awstime.New(r.AttachTime), InstanceID: "local",
		})
	}
	return v
}

// Delete removes a volume that is not attached, and its blocks.
func (m *Manager) Delete(ctx context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, err := m.get(id)
	if err != nil {
		return err
	}
	if r.State == stateInUse || m.attached[id] != nil {
		return awserr.New(ErrVolumeInUse, "Volume %s is currently attached to %s.", id, r.Device)
	}
	if r.State == stateCreating {
		return awserr.New(ErrIncorrectState, "Volume '%s' is still being created from its snapshot.", id)
	}
	return m.drop(r)
}

// drop deletes a volume's record and, in the same transaction, its pins
// (its head, and the snapshot view it was being restored from); then it
// frees the blocks nothing else needs. m.mu is held.
func (m *Manager) drop(r *volumeRecord) error {
	err := m.cfg.DB.Update(func(tx *kv.Txn) error {
		if err := tx.Delete([]byte(prefixVolume + r.ID)); err != nil {
			return err
		}
		if err := m.cfg.Store.UnpinInTx(tx, r.Lineage, store.HeadGen, headHolder); err != nil {
			return err
		}
		return m.unpinSource(tx, r)
	})
	if err == nil {
		err = m.cfg.DB.Sync()
	}
	if err != nil {
		return fmt.Errorf("delete volume %s: %w", r.ID, err)
	}
	m.collect("volume " + r.ID + " deleted")
	return nil
}

// collect frees the blocks of the pins just dropped. A failure does not
// undo what was committed: it is logged, and the next Collect (the next
// delete, or the next start) frees them.
func (m *Manager) collect(what string) {
	if err := m.cfg.Store.Collect(); err != nil {
		m.cfg.Logger.Error("free blocks", "after", what, "err", err)
	}
}

// Modify changes a volume's type or grows it while it is detached. It
// refuses to encrypt a volume in place, and says how to.
func (m *Manager) Modify(ctx context.Context, in *ModifyVolumeInput) (*VolumeInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, err := m.get(in.VolumeID)
	if err != nil {
		return nil, err
	}
	if (in.Encrypted != nil && *in.Encrypted) || in.KmsKeyID != "" {
		return nil, awserr.New(ErrUnsupportedOperation,
			"Volume %[1]s cannot be encrypted in place. Encrypt it by copy: "+
				"'ebs ec2 create-snapshot --volume-id %[1]s', then 'ebs ec2 copy-snapshot --source-snapshot-id <snap> --encrypted [--kms-key-id K]', "+
				"then 'ebs ec2 create-volume --snapshot-id <copy>' (or 'ebs ec2 encrypt-volume --volume-id %[1]s' for all three).", r.ID)
	}
	if in.VolumeType != "" && !slices.Contains(volumeTypes, in.VolumeType) {
		return nil, awserr.New(ErrInvalidParameterValue, "Value (%s) for parameter volumeType is invalid.", in.VolumeType)
	}
	size := r.SizeGiB
	if in.Size != nil {
		size = *in.Size
	}
	if size < r.SizeGiB || size > 16384 {
		return nil, awserr.New(ErrInvalidParameterValue, "New size %d GiB must be at least the current %d GiB and at most 16384.", size, r.SizeGiB)
	}
	if size > r.SizeGiB && r.State == stateInUse {
		return nil, awserr.New(ErrIncorrectState, "Volume %s must be detached to grow it.", r.ID)
	}
	r, err = m.update(r.ID, func(r *volumeRecord) error {
		r.SizeGiB = size
		if in.VolumeType != "" {
			r.VolumeType = in.VolumeType
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return m.info(r), nil
}

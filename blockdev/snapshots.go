package blockdev

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"

	"github.com/ebs-dev/ebs/blockdev/xts"
	"github.com/ebs-dev/ebs/internal/awserr"
	"github.com/ebs-dev/ebs/internal/kv"
	"github.com/ebs-dev/ebs/kmsclient"
)

// SourceInfo is what a snapshot keeps of the blocks and key it was made of:
// a view (lineage at a generation) and the data key, wrapped under a CMK
// and bound to KeyContext.
type SourceInfo struct {
	VolumeID   string            `json:"volumeId"`
	SizeGiB    int64             `json:"sizeGiB"`
	Lineage    uint64            `json:"lineage"`
	Gen        uint64            `json:"gen"`
	Encrypted  bool              `json:"encrypted"`
	KmsKeyArn  string            `json:"kmsKeyArn,omitempty"`
	WrappedKey []byte            `json:"wrappedKey,omitempty"`
	KeyContext map[string]string `json:"keyContext,omitempty"`
	DataKeyID  string            `json:"dataKeyId,omitempty"`
}

// Snapshot freezes volume id at a point in time, attached or not. fn runs
// inside the metadata transaction that moves the volume to its next
// generation, with the frozen view: it records the snapshot (and pins the
// view) atomically with that move. O(1) in the volume's size.
func (m *Manager) Snapshot(ctx context.Context, id string, fn func(tx *kv.Txn, src SourceInfo) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, err := m.get(id)
	if err != nil {
		return err
	}
	if r.State != stateAvailable && r.State != stateInUse {
		return awserr.New(ErrIncorrectState, "Volume '%s' is in the '%s' state.", id, r.State)
	}
	persist := func(gen uint64) error {
		src := SourceInfo{VolumeID: r.ID, SizeGiB: r.SizeGiB, Lineage: r.Lineage, Gen: gen, Encrypted: r.Encrypted,
			KmsKeyArn: r.KmsKeyArn, WrappedKey: r.WrappedKey, DataKeyID: r.DataKeyID}
		if r.Encrypted {
			src.KeyContext = map[string]string{"aws:ebs:id": r.ID}
		}
		err := m.cfg.DB.Update(func(tx *kv.Txn) error {
			if err := fn(tx, src); err != nil {
				return err
			}
			r.Gen = gen + 1
			return m.save(tx, r)
		})
		if err != nil {
			return err
		}
		return m.cfg.DB.Sync()
	}
	if v := m.attached[id]; v != nil {
		return v.head().Freeze(persist)
	}
	return persist(r.Gen)
}

// Restore is a volume being made from a snapshot: its record is saved and
// it holds the snapshot's view (it reads through to it, or pins it for its
// copy), so that the snapshot may be deleted from then on.
type Restore struct {
	r    *volumeRecord
	src  SourceInfo
	copy bool
}

// ID is the new volume's id.
func (rs *Restore) ID() string { return rs.r.ID }

// restoreHolder pins the snapshot's view for a volume whose blocks are
// being copied from it.
func restoreHolder(volumeID string) string { return "restore:" + volumeID }

// StartRestore makes a volume from a snapshot, up to its blocks. With the
// snapshot's CMK (or none named) it shares the snapshot's blocks and data
// key, re-wrapped for the new volume with ReEncrypt: instant, nothing is
// copied until written. With another CMK, or to encrypt an unencrypted
// snapshot, it takes a new data key and the volume is "creating" until
// FinishRestore has copied every block, re-encrypted. An encrypted snapshot
// always gives an encrypted volume.
func (m *Manager) StartRestore(ctx context.Context, in *CreateVolumeInput, snapshotID string, src SourceInfo) (*Restore, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	size := in.Size
	if size == 0 {
		size = src.SizeGiB
	}
	if size < src.SizeGiB || size > 16384 {
		return nil, awserr.New(ErrInvalidParameterValue, "The volume size %d GiB is invalid for snapshot %s: it must be at least the snapshot's %d GiB.", size, snapshotID, src.SizeGiB)
	}
	enc, keyID, err := m.encryptionFor(in.Encrypted, in.KmsKeyID)
	if err != nil {
		return nil, err
	}
	if src.Encrypted && in.KmsKeyID == "" {
		keyID = src.KmsKeyArn
	}
	r := &volumeRecord{ID: newID("vol-"), SizeGiB: size, VolumeType: orDefault(in.VolumeType, "gp3"), Created: m.cfg.Clock.Now(),
		Gen: 1, State: stateAvailable, SnapshotID: snapshotID}
	if err := m.keyFromSnapshot(ctx, r, src, enc || src.Encrypted, keyID); err != nil {
		return nil, err
	}
	if !r.Encrypted || r.DataKeyID == src.DataKeyID {
		return &Restore{r: r, src: src}, m.saveNew(r, src.Lineage, src.Gen) // shares the blocks
	}
	r.State, r.RestoreFrom = stateCreating, &ViewRef{Lineage: src.Lineage, Gen: src.Gen}
	return &Restore{r: r, src: src, copy: true}, m.saveNew(r, 0, 0)
}

// FinishRestore copies the blocks of a restore that needs it, without the
// manager's lock (other volumes are not held up), telling progress (if set)
// how far it is; then the volume is available and lets the snapshot's view
// go. If the copy fails, the volume is deleted.
func (m *Manager) FinishRestore(ctx context.Context, rs *Restore, progress func(done, total uint64)) (*VolumeInfo, error) {
	r := rs.r
	if !rs.copy {
		return m.infoLocked(r), nil
	}
	err := m.CopyInto(ctx, rs.src, r.Lineage, r.KmsKeyArn, r.WrappedKey, map[string]string{"aws:ebs:id": r.ID}, r.blocks(), progress)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		if derr := m.drop(r); derr != nil {
			err = errors.Join(err, derr)
		}
		return nil, fmt.Errorf("copy snapshot blocks into %s: %w", r.ID, err)
	}
	err = m.cfg.DB.Update(func(tx *kv.Txn) error {
		cur, err := m.load(tx, r.ID)
		if err != nil {
			return err
		}
		if err := m.unpinSource(tx, cur); err != nil {
			return err
		}
		cur.State, r = stateAvailable, cur
		return m.save(tx, cur)
	})
	if err == nil {
		err = m.cfg.DB.Sync()
	}
	if err != nil {
		return nil, fmt.Errorf("create volume %s: %w", r.ID, err)
	}
	m.collect("volume " + r.ID + " restored")
	return m.info(r), nil
}

func (m *Manager) infoLocked(r *volumeRecord) *VolumeInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.info(r)
}

// unpinSource lets go, in tx, the snapshot view a restored volume pinned
// for its copy.
func (m *Manager) unpinSource(tx *kv.Txn, r *volumeRecord) error {
	if r.RestoreFrom == nil {
		return nil
	}
	err := m.cfg.Store.UnpinInTx(tx, r.RestoreFrom.Lineage, r.RestoreFrom.Gen, restoreHolder(r.ID))
	r.RestoreFrom = nil
	return err
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// keyFromSnapshot gives r its key: the snapshot's data key re-wrapped when
// the CMK is the same, else a new data key (or none, unencrypted).
func (m *Manager) keyFromSnapshot(ctx context.Context, r *volumeRecord, src SourceInfo, enc bool, keyID string) error {
	if !enc {
		return nil
	}
	encCtx := map[string]string{"aws:ebs:id": r.ID}
	if src.Encrypted {
		md, err := m.cfg.KMS.DescribeKey(m.viaEC2(ctx), &kmsclient.KeyIDInput{KeyID: keyID})
		if err != nil {
			return err
		}
		if md.KeyMetadata.Arn == src.KmsKeyArn {
			arn, blob, err := m.Rewrap(ctx, src.WrappedKey, src.KeyContext, src.KmsKeyArn, encCtx)
			if err != nil {
				return err
			}
			r.Encrypted, r.KmsKeyArn, r.WrappedKey, r.DataKeyID = true, arn, blob, src.DataKeyID
			return nil
		}
	}
	return m.newDataKey(ctx, r, keyID)
}

// CopyInto copies every block of the view src into lineage dst (at
// generation 1), decrypting with the source's data key and encrypting with
// the destination's (dstBlob under dstKeyArn, bound to dstCtx; nil blob:
// unencrypted). progress, if set, is told the blocks done and the total.
func (m *Manager) CopyInto(ctx context.Context, src SourceInfo, dst uint64, dstKeyArn string, dstBlob []byte, dstCtx map[string]string,
	blocks uint64, progress func(done, total uint64)) error {
	var srcC, dstC SectorCipher
	var err error
	if src.Encrypted {
		if srcC, err = m.UnwrapKey(ctx, src.KmsKeyArn, src.WrappedKey, src.KeyContext); err != nil {
			return err
		}
		defer srcC.Close()
	}
	if dstBlob != nil {
		if dstC, err = m.UnwrapKey(ctx, dstKeyArn, dstBlob, dstCtx); err != nil {
			return err
		}
		defer dstC.Close()
	}
	view, err := m.cfg.Store.OpenView(src.Lineage, src.Gen, uint64(src.SizeGiB)<<30/BlockSize)
	if err != nil {
		return err
	}
	lin, err := m.cfg.Store.OpenLineage(dst, 1, blocks)
	if err != nil {
		return err
	}
	err = copyView(ctx, view, srcC, lin, dstC, progress)
	if cerr := lin.Close(); err == nil {
		err = cerr
	}
	return err
}

// UnwrapKey decrypts a wrapped data key through EC2 and returns its cipher.
func (m *Manager) UnwrapKey(ctx context.Context, keyArn string, blob []byte, encCtx map[string]string) (SectorCipher, error) {
	out, err := m.cfg.KMS.Decrypt(m.viaEC2(ctx), &kmsclient.DecryptInput{CiphertextBlob: blob, KeyID: keyArn, EncryptionContext: encCtx})
	if err != nil {
		return nil, err
	}
	defer clear(out.Plaintext)
	c, err := xts.New(out.Plaintext)
	if err != nil {
		return nil, awserr.New(ErrInvalidDataKey, "The data key is not a valid AES-256-XTS key: %v", err)
	}
	return c, nil
}

// NewDataKey generates a 64-byte data key under keyID bound to encCtx and
// returns the key's ARN and the wrapped key.
func (m *Manager) NewDataKey(ctx context.Context, keyID string, encCtx map[string]string) (string, []byte, error) {
	out, err := m.cfg.KMS.GenerateDataKeyWithoutPlaintext(m.viaEC2(ctx), &kmsclient.GenerateDataKeyInput{
		KeyID: keyID, NumberOfBytes: xts.KeySize, EncryptionContext: maps.Clone(encCtx),
	})
	if err != nil {
		return "", nil, err
	}
	return out.KeyID, out.CiphertextBlob, nil
}

// Rewrap re-encrypts a wrapped data key under dstKey and dstCtx, inside the
// KMS (ReEncrypt): the data key does not change.
func (m *Manager) Rewrap(ctx context.Context, blob []byte, srcCtx map[string]string, dstKey string, dstCtx map[string]string) (string, []byte, error) {
	out, err := m.cfg.KMS.ReEncrypt(m.viaEC2(ctx), &kmsclient.ReEncryptInput{
		CiphertextBlob: blob, SourceEncryptionContext: srcCtx, DestinationKeyID: dstKey, DestinationEncryptionContext: dstCtx,
	})
	if err != nil {
		return "", nil, err
	}
	return out.KeyID, out.CiphertextBlob, nil
}

// EncryptionFor resolves encryption and key for a new encrypted resource as
// CreateVolume does (encryption by default, the default key).
func (m *Manager) EncryptionFor(encrypted *bool, kmsKeyID string) (bool, string, error) {
	return m.encryptionFor(encrypted, kmsKeyID)
}

// VolumesUsingKey lists the volumes whose data key is wrapped under keyArn.
// It reads the records without the manager's lock: the KMS calls it (the
// key-deletion guard) while the manager may be waiting on the KMS.
func (m *Manager) VolumesUsingKey(keyArn string) ([]string, error) {
	var ids []string
	err := m.cfg.DB.View(func(tx *kv.Txn) error {
		return tx.Scan([]byte(prefixVolume), nil, func(_, v []byte) error {
			r := new(volumeRecord)
			if err := json.Unmarshal(v, r); err != nil {
				return err
			}
			if r.KmsKeyArn == keyArn {
				ids = append(ids, r.ID)
			}
			return nil
		})
	})
	return ids, err
}

// KeyArn resolves a key id, alias or ARN to the key's ARN ("" if unknown).
func (m *Manager) KeyArn(ctx context.Context, keyID string) string {
	md, err := m.cfg.KMS.DescribeKey(m.viaEC2(ctx), &kmsclient.KeyIDInput{KeyID: keyID})
	if err != nil {
		return ""
	}
	return md.KeyMetadata.Arn
}

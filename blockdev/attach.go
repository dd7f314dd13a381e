package blockdev

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ebs-dev/ebs/blockdev/store"
	"github.com/ebs-dev/ebs/blockdev/xts"
	"github.com/ebs-dev/ebs/internal/awserr"
	"github.com/ebs-dev/ebs/kmsclient"
)

// infrastructurePrincipal is the grantee of the grant made at attach: the
// host that serves the volume, as EBS names its EC2 infrastructure role.
func (m *Manager) infrastructurePrincipal() string {
	return "arn:aws:sts::" + m.cfg.Account + ":assumed-role/aws:ec2-infrastructure/ebs-local"
}

// Attach opens a volume for I/O. For an encrypted volume it does what EBS
// does: CreateGrant for the host, constrained to the volume's encryption
// context, then Decrypt of the wrapped data key (audited and checked
// against the key policy for the caller); the plaintext key stays in memory
// only, inside the XTS cipher, until Detach. device is where the volume will
// appear, for the record.
func (m *Manager) Attach(ctx context.Context, id, device string) (*Volume, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, err := m.get(id)
	if err != nil {
		return nil, err
	}
	if r.State == stateInUse || m.attached[id] != nil {
		return nil, awserr.New(ErrVolumeInUse, "%s is already attached to %s.", id, r.Device)
	}
	if r.State != stateAvailable {
		return nil, awserr.New(ErrIncorrectState, "Volume '%s' is in the '%s' state.", id, r.State)
	}
	caller, _ := kmsclient.CallerFrom(ctx)
	v, grantID, err := m.open(ctx, r)
	if err != nil {
		return nil, err
	}
	_, err = m.update(id, func(r *volumeRecord) error {
		r.State, r.Device, r.AttachTime, r.GrantID = stateInUse, device, m.cfg.Clock.Now(), grantID
		r.AttachedBy = &principal{ARN: caller.ARN, AccountID: caller.AccountID, PrincipalID: caller.PrincipalID, Type: caller.Type, UserName: caller.UserName}
		return nil
	})
	if err != nil {
		v.close()
		m.retireGrant(m.viaEC2(ctx), r.KmsKeyArn, grantID)
		return nil, err
	}
	m.attached[id] = v
	return v, nil
}

// open builds the data path of a volume: its cipher (after the KMS calls)
// and its lineage.
func (m *Manager) open(ctx context.Context, r *volumeRecord) (*Volume, string, error) {
	v := &Volume{id: r.ID, size: r.SizeGiB << 30, log: m.cfg.Logger}
	grantID := ""
	if r.Encrypted {
		c, g, err := m.unwrapKey(ctx, r)
		if err != nil {
			return nil, "", err
		}
		v.cipher, grantID = c, g
	}
	lin, err := m.cfg.Store.OpenLineage(r.Lineage, r.Gen, r.blocks())
	if err != nil {
		if v.cipher != nil {
			v.cipher.Close()
		}
		return nil, "", err
	}
	v.lin.Store(lin)
	return v, grantID, nil
}

// unwrapKey makes the attach-time KMS calls and returns the volume's cipher.
func (m *Manager) unwrapKey(ctx context.Context, r *volumeRecord) (SectorCipher, string, error) {
	ctx = m.viaEC2(ctx)
	encCtx := map[string]string{"aws:ebs:id": r.ID}
	g, err := m.cfg.KMS.CreateGrant(ctx, &kmsclient.CreateGrantInput{
		KeyID: r.KmsKeyArn, GranteePrincipal: m.infrastructurePrincipal(), RetiringPrincipal: m.infrastructurePrincipal(),
		Operations:  []string{"Decrypt", "RetireGrant"},
		Constraints: &kmsclient.GrantConstraints{EncryptionContextSubset: encCtx},
	})
	if err != nil {
		return nil, "", keyError(r, err)
	}
	out, err := m.cfg.KMS.Decrypt(ctx, &kmsclient.DecryptInput{CiphertextBlob: r.WrappedKey, KeyID: r.KmsKeyArn, EncryptionContext: encCtx})
	if err != nil {
		m.retireGrant(ctx, r.KmsKeyArn, g.GrantID)
		return nil, "", keyError(r, err)
	}
	defer clear(out.Plaintext)
	c, err := xts.New(out.Plaintext)
	if err != nil {
		m.retireGrant(ctx, r.KmsKeyArn, g.GrantID)
		return nil, "", awserr.New(ErrInvalidDataKey, "The data key of volume %s is not a valid AES-256-XTS key: %v", r.ID, err)
	}
	return c, g.GrantID, nil
}

// keyError keeps the KMS error kind (DisabledException, AccessDenied...)
// and says which volume and key it stopped.
func keyError(r *volumeRecord, err error) error {
	var ae *awserr.Error
	if errors.As(err, &ae) {
		return awserr.New(ae.Kind, "Volume %s cannot use its KMS key %s: %s", r.ID, r.KmsKeyArn, ae.Msg)
	}
	return fmt.Errorf("volume %s: KMS key %s: %w", r.ID, r.KmsKeyArn, err)
}

func (m *Manager) retireGrant(ctx context.Context, keyArn, grantID string) {
	if grantID == "" {
		return
	}
	infra := kmsclient.Caller{ARN: m.infrastructurePrincipal(), AccountID: m.cfg.Account, PrincipalID: "AROAEC2INFRASTRUCTURE", Type: "AssumedRole"}
	infra.ViaService = "ec2." + m.cfg.Region + ".amazonaws.com"
	if _, err := m.cfg.KMS.RetireGrant(kmsclient.WithCaller(ctx, infra), &kmsclient.RetireGrantInput{KeyID: keyArn, GrantID: grantID}); err != nil {
		m.cfg.Logger.Warn("retire attach grant", "key", keyArn, "grant", grantID, "err", err)
	}
}

// Detach closes an attached volume: its writes are flushed, its lineage
// closed, the plaintext data key wiped, the attach grant retired. The
// caller removes the volume from the mount first.
func (m *Manager) Detach(ctx context.Context, id string) (*VolumeInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, err := m.get(id)
	if err != nil {
		return nil, err
	}
	if r.State != stateInUse {
		return nil, awserr.New(ErrIncorrectState, "Volume '%s' is in the 'available' state.", id)
	}
	if v := m.attached[id]; v != nil {
		delete(m.attached, id)
		switch err := v.close(); {
		case errors.Is(err, store.ErrImpaired):
			// What could not be made durable is dropped; the next attach
			// opens what is durable, with I/O enabled again.
			m.cfg.Logger.Warn("impaired volume detached", "volume", id, "err", err)
		case err != nil:
			return nil, fmt.Errorf("detach %s: %w", id, err)
		}
	}
	m.retireGrant(ctx, r.KmsKeyArn, r.GrantID)
	r, err = m.update(id, func(r *volumeRecord) error {
		r.State, r.Device, r.AttachTime, r.AttachedBy, r.GrantID = stateAvailable, "", time.Time{}, nil, ""
		return nil
	})
	if err != nil {
		return nil, err
	}
	return m.info(r), nil
}

// Attached returns the data path of an attached volume, or nil.
func (m *Manager) Attached(id string) *Volume {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.attached[id]
}

// Reopen opens again, as the principal that attached them, the volumes
// that were attached when the daemon stopped. A volume whose key can no
// longer be used (disabled, denied) is marked detached, and its error
// returned with the others.
func (m *Manager) Reopen(ctx context.Context) ([]*Volume, error) {
	out, err := m.Describe(ctx, &DescribeVolumesInput{})
	if err != nil {
		return nil, err
	}
	var vols []*Volume
	var errs []error
	for _, info := range out.Volumes {
		if info.State == stateCreating { // a restart interrupted its copy: its blocks are incomplete
			m.mu.Lock() // update is a read-modify-write: the manager's lock serialises them
			_, err := m.update(info.VolumeID, func(r *volumeRecord) error { r.State = "error"; return nil })
			m.mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if info.State != stateInUse {
			continue
		}
		v, err := m.reopen(ctx, info.VolumeID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		vols = append(vols, v)
	}
	return vols, errors.Join(errs...)
}

func (m *Manager) reopen(ctx context.Context, id string) (*Volume, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, err := m.get(id)
	if err != nil {
		return nil, err
	}
	c := kmsclient.RootCaller(m.cfg.Account)
	if p := r.AttachedBy; p != nil {
		c = kmsclient.Caller{ARN: p.ARN, AccountID: p.AccountID, PrincipalID: p.PrincipalID, Type: p.Type, UserName: p.UserName}
	}
	c.SourceIP, c.UserAgent = "ebs-daemon", "ebs-daemon (reattach at start)"
	ctx = kmsclient.WithCaller(ctx, c)
	m.retireGrant(ctx, r.KmsKeyArn, r.GrantID)
	v, grantID, err := m.open(ctx, r)
	if err != nil {
		if _, uerr := m.update(id, func(r *volumeRecord) error {
			r.State, r.Device, r.AttachedBy, r.GrantID = stateAvailable, "", nil, ""
			return nil
		}); uerr != nil {
			err = errors.Join(err, uerr)
		}
		return nil, fmt.Errorf("reattach %s: %w", id, err)
	}
	if _, err := m.update(id, func(r *volumeRecord) error { r.GrantID = grantID; return nil }); err != nil {
		v.close()
		return nil, err
	}
	m.attached[id] = v
	return v, nil
}

// Close closes every attached volume (they stay attached in their records,
// to be reopened at the next start).
func (m *Manager) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error
	for id, v := range m.attached {
		errs = append(errs, v.close())
		delete(m.attached, id)
	}
	return errors.Join(errs...)
}

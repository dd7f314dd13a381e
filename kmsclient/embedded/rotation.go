package embedded

import (
	"context"

	"github.com/ebs-dev/ebs/internal/awserr"
	"github.com/ebs-dev/ebs/internal/awstime"
	"github.com/ebs-dev/ebs/internal/kv"
	"github.com/ebs-dev/ebs/kmsclient"
	"github.com/ebs-dev/ebs/kmsclient/audit"
)

const maxOnDemandRotations = 25

// applyTime brings a key up to the clock: a key whose deletion date has
// passed is destroyed (k.State becomes ""), and an enabled key with
// automatic rotation gets a new material for every rotation date passed. It
// saves the key if it changed and returns the service events to record.
func (s *KMS) applyTime(tx *kv.Txn, k *keyRecord) ([]*audit.Record, error) {
	now := s.now()
	if k.State == statePendingDeletion && !now.Before(k.DeletionDate) {
		ev := s.serviceEvent("DeleteKey", k)
		return []*audit.Record{ev}, s.deleteKey(tx, k)
	}
	var events []*audit.Record
	r := &k.Rotation
	for k.State == stateEnabled && r.Enabled && !r.Next.IsZero() && !now.Before(r.Next) {
		if err := s.addMaterial(k, rotationAutomatic); err != nil {
			return nil, err
		}
		k.current().Created = r.Next
		r.Next = r.Next.AddDate(0, 0, r.PeriodDays)
		if r.Next.Before(now) { // re-enabled long after: next date counts from now
			r.Next = now.AddDate(0, 0, r.PeriodDays)
		}
		events = append(events, s.serviceEvent("RotateKey", k))
	}
	if len(events) == 0 {
		return nil, nil
	}
	return events, putJSON(tx, prefixKey+k.ID, k)
}

// EnableKeyRotation turns on automatic rotation every RotationPeriodInDays
// (90-2560, default 365).
func (s *KMS) EnableKeyRotation(ctx context.Context, in *kmsclient.EnableKeyRotationInput) (*kmsclient.Empty, error) {
	return run(s, ctx, "EnableKeyRotation", in, func(c *call) (*kmsclient.Empty, error) {
		days := in.RotationPeriodInDays
		if days == 0 {
			days = 365
		}
		if days < 90 || days > 2560 {
			return nil, awserr.New(kmsclient.ErrValidation, "1 validation error detected: Value '%d' at 'rotationPeriodInDays' failed to satisfy constraint: Member must have value between 90 and 2560", days)
		}
		k, err := s.rotatableKey(c, in.KeyID, "EnableKeyRotation")
		if err != nil {
			return nil, err
		}
		if !k.Rotation.Enabled || k.Rotation.PeriodDays != days {
			k.Rotation = rotationSettings{Enabled: true, PeriodDays: days, Next: s.now().AddDate(0, 0, days)}
		}
		return &kmsclient.Empty{}, s.saveKey(c, k)
	})
}

// DisableKeyRotation turns off automatic rotation.
func (s *KMS) DisableKeyRotation(ctx context.Context, in *kmsclient.KeyIDInput) (*kmsclient.Empty, error) {
	return run(s, ctx, "DisableKeyRotation", in, func(c *call) (*kmsclient.Empty, error) {
		k, err := s.rotatableKey(c, in.KeyID, "DisableKeyRotation")
		if err != nil {
			return nil, err
		}
		k.Rotation = rotationSettings{}
		return &kmsclient.Empty{}, s.saveKey(c, k)
	})
}

// rotatableKey loads a key whose rotation settings the caller may change: a
// customer managed key that is enabled.
func (s *KMS) rotatableKey(c *call, keyID, op string) (*keyRecord, error) {
	k, err := s.useKey(c, keyID, op, nil)
	if err != nil {
		return nil, err
	}
	if err := customerManaged(k, "change the rotation of"); err != nil {
		return nil, err
	}
	return k, usable(k)
}

// GetKeyRotationStatus reports whether automatic rotation is on and when the
// next rotation is due.
func (s *KMS) GetKeyRotationStatus(ctx context.Context, in *kmsclient.KeyIDInput) (*kmsclient.GetKeyRotationStatusOutput, error) {
	return run(s, ctx, "GetKeyRotationStatus", in, func(c *call) (*kmsclient.GetKeyRotationStatusOutput, error) {
		k, err := s.useKey(c, in.KeyID, "GetKeyRotationStatus", nil)
		if err != nil {
			return nil, err
		}
		out := &kmsclient.GetKeyRotationStatusOutput{KeyID: k.Arn}
		if k.Rotation.Enabled && k.State != statePendingDeletion {
			out.KeyRotationEnabled = true
			out.RotationPeriodInDays = k.Rotation.PeriodDays
			out.NextRotationDate = awstime.New(k.Rotation.Next)
		}
		return out, nil
	})
}

// RotateKeyOnDemand gives the key a new material now (at most 25 times per
// key); the automatic schedule does not change.
func (s *KMS) RotateKeyOnDemand(ctx context.Context, in *kmsclient.KeyIDInput) (*kmsclient.KeyIDOutput, error) {
	return run(s, ctx, "RotateKeyOnDemand", in, func(c *call) (*kmsclient.KeyIDOutput, error) {
		k, err := s.rotatableKey(c, in.KeyID, "RotateKeyOnDemand")
		if err != nil {
			return nil, err
		}
		if k.OnDemandRotations >= maxOnDemandRotations {
			return nil, awserr.New(kmsclient.ErrLimitExceeded, "%s has reached the limit of %d on-demand rotations.", k.Arn, maxOnDemandRotations)
		}
		if err := s.addMaterial(k, rotationOnDemand); err != nil {
			return nil, err
		}
		k.OnDemandRotations++
		return &kmsclient.KeyIDOutput{KeyID: k.Arn}, s.saveKey(c, k)
	})
}

// ListKeyRotations lists the key's rotations (ROTATIONS_ONLY, the default)
// or every key material it has had (ALL_KEY_MATERIAL), oldest first.
func (s *KMS) ListKeyRotations(ctx context.Context, in *kmsclient.ListKeyRotationsInput) (*kmsclient.ListKeyRotationsOutput, error) {
	return run(s, ctx, "ListKeyRotations", in, func(c *call) (*kmsclient.ListKeyRotationsOutput, error) {
		include := in.IncludeKeyMaterial
		if include != "" && include != "ROTATIONS_ONLY" && include != "ALL_KEY_MATERIAL" {
			return nil, awserr.New(kmsclient.ErrValidation, "1 validation error detected: Value '%s' at 'includeKeyMaterial' failed to satisfy constraint: Member must satisfy enum value set: [ALL_KEY_MATERIAL, ROTATIONS_ONLY]", include)
		}
		k, err := s.useKey(c, in.KeyID, "ListKeyRotations", nil)
		if err != nil {
			return nil, err
		}
		var all []kmsclient.RotationsListEntry
		for i, m := range k.Materials {
			if m.RotationType == "" && include != "ALL_KEY_MATERIAL" {
				continue
			}
			state := "NON_CURRENT"
			if i == len(k.Materials)-1 {
				state = "CURRENT"
			}
			all = append(all, kmsclient.RotationsListEntry{
				KeyID: k.Arn, KeyMaterialID: m.ID, KeyMaterialState: state,
				RotationDate: awstime.New(m.Created), RotationType: m.RotationType,
			})
		}
		return pageSlice(all, in.Limit, in.Marker)
	})
}

func pageSlice(all []kmsclient.RotationsListEntry, limit int, marker string) (*kmsclient.ListKeyRotationsOutput, error) {
	if limit == 0 {
		limit = 100
	}
	if limit < 1 || limit > 1000 {
		return nil, awserr.New(kmsclient.ErrValidation, "1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and 1000", limit)
	}
	start := 0
	if marker != "" {
		start = -1
		for i, r := range all {
			if r.KeyMaterialID == marker {
				start = i
			}
		}
		if start < 0 {
			return nil, awserr.New(kmsclient.ErrInvalidMarker, "The marker %q is not valid.", marker)
		}
	}
	out := &kmsclient.ListKeyRotationsOutput{Rotations: all[start:]}
	if len(out.Rotations) > limit {
		out.NextMarker, out.Truncated = out.Rotations[limit].KeyMaterialID, true
		out.Rotations = out.Rotations[:limit]
	}
	if out.Rotations == nil {
		out.Rotations = []kmsclient.RotationsListEntry{}
	}
	return out, nil
}

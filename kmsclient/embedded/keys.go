package embedded

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ebs-dev/ebs/internal/awserr"
	"github.com/ebs-dev/ebs/internal/awstime"
	"github.com/ebs-dev/ebs/internal/kv"
	"github.com/ebs-dev/ebs/kmsclient"
	"github.com/ebs-dev/ebs/kmsclient/policy"
)

// AWS managed keys this KMS makes on first use: alias -> the service whose
// calls its policy admits (kms:ViaService <service>.<region>.amazonaws.com).
var managedAliases = map[string]string{"alias/aws/ebs": "ec2"}

const managedDescription = "Default key that protects my EBS volumes when no other key is defined"

// useKey resolves a KeyId parameter, applies what the clock has made due
// (a rotation, or the deletion that makes the key vanish), records the key
// as a resource of the call, and checks that the caller may perform action.
func (s *KMS) useKey(c *call, keyID, action string, encCtx map[string]string) (*keyRecord, error) {
	ref, err := s.parseKeyRef(keyID)
	if err != nil {
		return nil, err
	}
	k, err := s.loadKey(c.tx, ref)
	if errors.Is(err, kmsclient.ErrNotFound) && managedAliases[ref.alias] != "" {
		k, err = s.createManagedKey(c, ref.alias)
	}
	if err != nil {
		return nil, err
	}
	events, err := s.applyTime(c.tx, k)
	c.events = append(c.events, events...)
	if err != nil {
		return nil, err
	}
	if k.State == "" { // deleted by applyTime
		return nil, s.errKeyNotFound(ref)
	}
	c.touch(k)
	if err := s.authorizeOnce(c, k, action, encCtx); err != nil {
		return nil, err
	}
	return k, nil
}

// usable fails unless the key can be used for cryptography now.
func usable(k *keyRecord) error {
	switch k.State {
	case stateEnabled:
		return nil
	case stateDisabled:
		return awserr.New(kmsclient.ErrDisabled, "%s is disabled.", k.Arn)
	default:
		return awserr.New(kmsclient.ErrInvalidState, "%s is pending deletion.", k.Arn)
	}
}

func notPendingDeletion(k *keyRecord) error {
	if k.State == statePendingDeletion {
		return awserr.New(kmsclient.ErrInvalidState, "%s is pending deletion.", k.Arn)
	}
	return nil
}

func customerManaged(k *keyRecord, what string) error {
	if k.Manager == managerAWS {
		return awserr.New(kmsclient.ErrUnsupportedOperation, "%s is an AWS managed key: you cannot %s it.", k.Arn, what)
	}
	return nil
}

func (s *KMS) saveKey(c *call, k *keyRecord) error {
	c.wrote = true
	return putJSON(c.tx, prefixKey+k.ID, k)
}

func (s *KMS) newKey(desc, pol, manager string, tags []kmsclient.Tag) (*keyRecord, error) {
	id := uuid.NewString()
	k := &keyRecord{
		ID: id, Arn: s.keyArn(id), Account: s.account, Description: desc, Created: s.now(),
		State: stateEnabled, Manager: manager, Policy: pol, Tags: tags,
	}
	if err := s.addMaterial(k, ""); err != nil {
		return nil, err
	}
	return k, nil
}

// addMaterial generates a new 256-bit key material, wraps it under the root
// key and makes it the key's current material.
func (s *KMS) addMaterial(k *keyRecord, rotationType string) error {
	secret := make([]byte, 32)
	defer clear(secret)
	if _, err := rand.Read(secret); err != nil {
		return awserr.New(kmsclient.ErrInternal, "random: %v", err)
	}
	version := uint32(len(k.Materials) + 1)
	wrapped, err := s.root.wrap(k.ID, version, secret)
	if err != nil {
		return awserr.New(kmsclient.ErrInternal, "%v", err)
	}
	idBytes := make([]byte, 32)
	rand.Read(idBytes)
	k.Materials = append(k.Materials, material{
		Version: version, ID: hex.EncodeToString(idBytes), Wrapped: wrapped,
		Created: s.now(), RotationType: rotationType,
	})
	return nil
}

func (s *KMS) createManagedKey(c *call, alias string) (*keyRecord, error) {
	pol := policy.AWSManagedKeyPolicy(s.account, managedAliases[alias], s.region)
	k, err := s.newKey(managedDescription, pol, managerAWS, nil)
	if err != nil {
		return nil, err
	}
	k.Rotation = rotationSettings{Enabled: true, PeriodDays: 365, Next: k.Created.AddDate(0, 0, 365)}
	now := s.now()
	if err := s.saveKey(c, k); err != nil {
		return nil, err
	}
	return k, putJSON(c.tx, prefixAlias+alias, &aliasRecord{Name: alias, KeyID: k.ID, Created: now, Updated: now})
}

func (s *KMS) metadata(k *keyRecord) *kmsclient.KeyMetadata {
	m := &kmsclient.KeyMetadata{
		AWSAccountID: k.Account, KeyID: k.ID, Arn: k.Arn, CreationDate: awstime.New(k.Created),
		Enabled: k.State == stateEnabled, Description: k.Description, KeyUsage: "ENCRYPT_DECRYPT",
		KeyState: k.State, Origin: "AWS_KMS", KeyManager: k.Manager,
		CustomerMasterKeySpec: "SYMMETRIC_DEFAULT", KeySpec: "SYMMETRIC_DEFAULT",
		EncryptionAlgorithms: []string{"SYMMETRIC_DEFAULT"}, CurrentKeyMaterialID: k.current().ID,
	}
	if k.State == statePendingDeletion {
		m.DeletionDate = awstime.New(k.DeletionDate)
		m.PendingDeletionWindow = k.PendingWindowDays
	}
	return m
}

// CreateKey makes a customer managed symmetric key.
func (s *KMS) CreateKey(ctx context.Context, in *kmsclient.CreateKeyInput) (*kmsclient.KeyMetadataOutput, error) {
	return run(s, ctx, "CreateKey", in, func(c *call) (*kmsclient.KeyMetadataOutput, error) {
		if err := validateCreateKey(in); err != nil {
			return nil, err
		}
		pol := in.Policy
		if pol == "" {
			pol = policy.DefaultKeyPolicy(s.account)
		}
		k, err := s.newKey(in.Description, pol, managerCustomer, in.Tags)
		if err != nil {
			return nil, err
		}
		if err := s.checkPolicy(c, k, pol, in.BypassPolicyLockoutSafetyCheck); err != nil {
			return nil, err
		}
		c.touch(k)
		return &kmsclient.KeyMetadataOutput{KeyMetadata: s.metadata(k)}, s.saveKey(c, k)
	})
}

func validateCreateKey(in *kmsclient.CreateKeyInput) error {
	for _, spec := range []string{in.KeySpec, in.CustomerMasterKeySpec} {
		if spec != "" && spec != "SYMMETRIC_DEFAULT" {
			return awserr.New(kmsclient.ErrUnsupportedOperation, "KeySpec %s is not supported: this KMS makes SYMMETRIC_DEFAULT keys.", spec)
		}
	}
	if in.KeyUsage != "" && in.KeyUsage != "ENCRYPT_DECRYPT" {
		return awserr.New(kmsclient.ErrValidation, "KeyUsage %s is not valid for a SYMMETRIC_DEFAULT key.", in.KeyUsage)
	}
	if in.Origin != "" && in.Origin != "AWS_KMS" {
		return awserr.New(kmsclient.ErrUnsupportedOperation, "Origin %s is not supported.", in.Origin)
	}
	if in.MultiRegion {
		return awserr.New(kmsclient.ErrUnsupportedOperation, "Multi-Region keys are not supported.")
	}
	if len(in.Description) > 8192 {
		return awserr.New(kmsclient.ErrValidation, "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 8192")
	}
	return validateTags(in.Tags)
}

// DescribeKey returns a key's metadata.
func (s *KMS) DescribeKey(ctx context.Context, in *kmsclient.KeyIDInput) (*kmsclient.KeyMetadataOutput, error) {
	return run(s, ctx, "DescribeKey", in, func(c *call) (*kmsclient.KeyMetadataOutput, error) {
		k, err := s.useKey(c, in.KeyID, "DescribeKey", nil)
		if err != nil {
			return nil, err
		}
		return &kmsclient.KeyMetadataOutput{KeyMetadata: s.metadata(k)}, nil
	})
}

// ListKeys lists every key of the account, AWS managed keys included.
func (s *KMS) ListKeys(ctx context.Context, in *kmsclient.ListInput) (*kmsclient.ListKeysOutput, error) {
	return run(s, ctx, "ListKeys", in, func(c *call) (*kmsclient.ListKeysOutput, error) {
		out := &kmsclient.ListKeysOutput{Keys: []kmsclient.KeyListEntry{}}
		next, err := page(c.tx, prefixKey, in.Limit, in.Marker, func(k *keyRecord) {
			out.Keys = append(out.Keys, kmsclient.KeyListEntry{KeyID: k.ID, KeyArn: k.Arn})
		})
		out.NextMarker, out.Truncated = next, next != ""
		return out, err
	})
}

// EnableKey makes a disabled key usable again.
func (s *KMS) EnableKey(ctx context.Context, in *kmsclient.KeyIDInput) (*kmsclient.Empty, error) {
	return s.setState(ctx, "EnableKey", in, stateEnabled)
}

// DisableKey stops a key from being used for cryptography.
func (s *KMS) DisableKey(ctx context.Context, in *kmsclient.KeyIDInput) (*kmsclient.Empty, error) {
	return s.setState(ctx, "DisableKey", in, stateDisabled)
}

func (s *KMS) setState(ctx context.Context, op string, in *kmsclient.KeyIDInput, state string) (*kmsclient.Empty, error) {
	return run(s, ctx, op, in, func(c *call) (*kmsclient.Empty, error) {
		k, err := s.useKey(c, in.KeyID, op, nil)
		if err != nil {
			return nil, err
		}
		if err := customerManaged(k, "enable or disable"); err != nil {
			return nil, err
		}
		if err := notPendingDeletion(k); err != nil {
			return nil, err
		}
		k.State = state
		if state == stateEnabled {
			// A key re-enabled after its rotation date rotates at once.
			events, err := s.applyTime(c.tx, k)
			c.events = append(c.events, events...)
			if err != nil {
				return nil, err
			}
		}
		return &kmsclient.Empty{}, s.saveKey(c, k)
	})
}

// UpdateKeyDescription changes a key's description.
func (s *KMS) UpdateKeyDescription(ctx context.Context, in *kmsclient.UpdateKeyDescriptionInput) (*kmsclient.Empty, error) {
	return run(s, ctx, "UpdateKeyDescription", in, func(c *call) (*kmsclient.Empty, error) {
		k, err := s.useKey(c, in.KeyID, "UpdateKeyDescription", nil)
		if err != nil {
			return nil, err
		}
		if err := customerManaged(k, "update the description of"); err != nil {
			return nil, err
		}
		if err := notPendingDeletion(k); err != nil {
			return nil, err
		}
		k.Description = in.Description
		return &kmsclient.Empty{}, s.saveKey(c, k)
	})
}

// ScheduleKeyDeletion puts a key in PendingDeletion; its material is
// destroyed when the waiting period (7-30 days, default 30) has passed.
func (s *KMS) ScheduleKeyDeletion(ctx context.Context, in *kmsclient.ScheduleKeyDeletionInput) (*kmsclient.ScheduleKeyDeletionOutput, error) {
	return run(s, ctx, "ScheduleKeyDeletion", in, func(c *call) (*kmsclient.ScheduleKeyDeletionOutput, error) {
		days := in.PendingWindowInDays
		if days == 0 {
			days = 30
		}
		if days < 7 || days > 30 {
			return nil, awserr.New(kmsclient.ErrValidation, "1 validation error detected: Value '%d' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value between 7 and 30", days)
		}
		k, err := s.useKey(c, in.KeyID, "ScheduleKeyDeletion", nil)
		if err != nil {
			return nil, err
		}
		if err := customerManaged(k, "schedule the deletion of"); err != nil {
			return nil, err
		}
		if err := notPendingDeletion(k); err != nil {
			return nil, err
		}
		if err := s.checkGuard(c, k, in.Force); err != nil {
			return nil, err
		}
		k.State, k.PendingWindowDays = statePendingDeletion, days
		k.DeletionDate = s.now().Add(time.Duration(days) * 24 * time.Hour)
		out := &kmsclient.ScheduleKeyDeletionOutput{
			KeyID: k.Arn, DeletionDate: awstime.New(k.DeletionDate), KeyState: k.State, PendingWindowInDays: days,
		}
		return out, s.saveKey(c, k)
	})
}

// CancelKeyDeletion takes a key out of PendingDeletion; it comes back
// Disabled, as in AWS.
func (s *KMS) CancelKeyDeletion(ctx context.Context, in *kmsclient.KeyIDInput) (*kmsclient.KeyIDOutput, error) {
	return run(s, ctx, "CancelKeyDeletion", in, func(c *call) (*kmsclient.KeyIDOutput, error) {
		k, err := s.useKey(c, in.KeyID, "CancelKeyDeletion", nil)
		if err != nil {
			return nil, err
		}
		if k.State != statePendingDeletion {
			return nil, awserr.New(kmsclient.ErrInvalidState, "%s is not pending deletion.", k.Arn)
		}
		k.State, k.DeletionDate, k.PendingWindowDays = stateDisabled, time.Time{}, 0
		return &kmsclient.KeyIDOutput{KeyID: k.Arn}, s.saveKey(c, k)
	})
}

// deleteKey destroys a key whose deletion date has passed: its materials,
// its aliases and its grants. k.State is cleared to mark it gone.
func (s *KMS) deleteKey(tx *kv.Txn, k *keyRecord) error {
	var doomed []string
	err := scanJSON(tx, prefixAlias, func(a *aliasRecord) error {
		if a.KeyID == k.ID {
			doomed = append(doomed, prefixAlias+a.Name)
		}
		return nil
	})
	if err != nil {
		return err
	}
	grants, err := s.keyGrants(tx, k.ID)
	if err != nil {
		return err
	}
	for _, g := range grants {
		if err := removeGrant(tx, g); err != nil {
			return err
		}
	}
	for _, key := range append(doomed, prefixKey+k.ID) {
		if err := tx.Delete([]byte(key)); err != nil {
			return err
		}
	}
	k.State = ""
	return nil
}

// checkGuard refuses to schedule the deletion of a key that still protects
// volumes or snapshots, unless forced, and names them.
func (s *KMS) checkGuard(c *call, k *keyRecord, force bool) error {
	guard := s.deletionGuard()
	if guard == nil || force {
		return nil
	}
	users, err := guard(context.Background(), k.Arn)
	if err != nil {
		return awserr.New(kmsclient.ErrInternal, "Cannot tell what %s protects: %v", k.Arn, err)
	}
	if len(users) > 0 {
		return awserr.New(kmsclient.ErrKeyInUse, "%s still protects %s. Deleting it would make them unreadable forever; "+
			"re-encrypt or delete them first, or schedule the deletion with --force.", k.Arn, strings.Join(users, ", "))
	}
	return nil
}

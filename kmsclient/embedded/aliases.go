package embedded

import (
	"context"
	"errors"
	"regexp"
	"strings"

	"github.com/ebs-dev/ebs/internal/awserr"
	"github.com/ebs-dev/ebs/internal/awstime"
	"github.com/ebs-dev/ebs/internal/kv"
	"github.com/ebs-dev/ebs/kmsclient"
)

var aliasPattern = regexp.MustCompile(`^alias/[a-zA-Z0-9:/_-]+$`)

func validateAliasName(name string) error {
	if len(name) > 256 || !aliasPattern.MatchString(name) {
		return awserr.New(kmsclient.ErrValidation, "1 validation error detected: Value '%s' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^alias/[a-zA-Z0-9/_-]+$", name)
	}
	if strings.HasPrefix(name, "alias/aws/") {
		return awserr.New(kmsclient.ErrInvalidAliasName, "Alias must not begin with 'alias/aws/'. The prefix is reserved for AWS managed keys.")
	}
	return nil
}

// aliasTarget resolves the TargetKeyId of CreateAlias or UpdateAlias: it
// must be a key id or key ARN (not an alias) of a customer managed key that
// is not pending deletion.
func (s *KMS) aliasTarget(c *call, target, op string) (*keyRecord, error) {
	ref, err := s.parseKeyRef(target)
	if err != nil {
		return nil, err
	}
	if ref.alias != "" {
		return nil, awserr.New(kmsclient.ErrValidation, "TargetKeyId must be a key ID or key ARN, not an alias: %s", target)
	}
	k, err := s.useKey(c, target, op, nil)
	if err != nil {
		return nil, err
	}
	if err := customerManaged(k, "alias"); err != nil {
		return nil, err
	}
	return k, notPendingDeletion(k)
}

// CreateAlias names a customer managed key.
func (s *KMS) CreateAlias(ctx context.Context, in *kmsclient.AliasInput) (*kmsclient.Empty, error) {
	return run(s, ctx, "CreateAlias", in, func(c *call) (*kmsclient.Empty, error) {
		if err := validateAliasName(in.AliasName); err != nil {
			return nil, err
		}
		k, err := s.aliasTarget(c, in.TargetKeyID, "CreateAlias")
		if err != nil {
			return nil, err
		}
		if _, err := c.tx.Get([]byte(prefixAlias + in.AliasName)); err == nil {
			return nil, awserr.New(kmsclient.ErrAlreadyExists, "An alias with the name %s already exists", s.aliasArn(in.AliasName))
		} else if !errors.Is(err, kv.ErrNotFound) {
			return nil, err
		}
		if n, err := s.countAliases(c.tx, k.ID); err != nil {
			return nil, err
		} else if n >= 50 {
			return nil, awserr.New(kmsclient.ErrLimitExceeded, "%s already has 50 aliases.", k.Arn)
		}
		now := s.now()
		return &kmsclient.Empty{}, putJSON(c.tx, prefixAlias+in.AliasName, &aliasRecord{Name: in.AliasName, KeyID: k.ID, Created: now, Updated: now})
	})
}

// UpdateAlias points an existing alias at another key.
func (s *KMS) UpdateAlias(ctx context.Context, in *kmsclient.AliasInput) (*kmsclient.Empty, error) {
	return run(s, ctx, "UpdateAlias", in, func(c *call) (*kmsclient.Empty, error) {
		a, err := s.existingAlias(c, in.AliasName, "UpdateAlias")
		if err != nil {
			return nil, err
		}
		k, err := s.aliasTarget(c, in.TargetKeyID, "UpdateAlias")
		if err != nil {
			return nil, err
		}
		a.KeyID, a.Updated = k.ID, s.now()
		return &kmsclient.Empty{}, putJSON(c.tx, prefixAlias+a.Name, a)
	})
}

// DeleteAlias removes an alias; its key is not affected.
func (s *KMS) DeleteAlias(ctx context.Context, in *kmsclient.DeleteAliasInput) (*kmsclient.Empty, error) {
	return run(s, ctx, "DeleteAlias", in, func(c *call) (*kmsclient.Empty, error) {
		a, err := s.existingAlias(c, in.AliasName, "DeleteAlias")
		if err != nil {
			return nil, err
		}
		return &kmsclient.Empty{}, c.tx.Delete([]byte(prefixAlias + a.Name))
	})
}

// ListAliases lists the aliases of the account, or of one key.
func (s *KMS) ListAliases(ctx context.Context, in *kmsclient.ListInput) (*kmsclient.ListAliasesOutput, error) {
	return run(s, ctx, "ListAliases", in, func(c *call) (*kmsclient.ListAliasesOutput, error) {
		keyID := ""
		if in.KeyID != "" {
			k, err := s.useKey(c, in.KeyID, "ListAliases", nil)
			if err != nil {
				return nil, err
			}
			keyID = k.ID
		}
		out := &kmsclient.ListAliasesOutput{Aliases: []kmsclient.AliasListEntry{}}
		next, err := page(c.tx, prefixAlias, in.Limit, in.Marker, func(a *aliasRecord) {
			if keyID == "" || a.KeyID == keyID {
				out.Aliases = append(out.Aliases, kmsclient.AliasListEntry{
					AliasName: a.Name, AliasArn: s.aliasArn(a.Name), TargetKeyID: a.KeyID,
					CreationDate: awstime.New(a.Created), LastUpdatedDate: awstime.New(a.Updated),
				})
			}
		})
		out.NextMarker, out.Truncated = next, next != ""
		return out, err
	})
}

func (s *KMS) countAliases(tx *kv.Txn, keyID string) (int, error) {
	n := 0
	err := scanJSON(tx, prefixAlias, func(a *aliasRecord) error {
		if a.KeyID == keyID {
			n++
		}
		return nil
	})
	return n, err
}

// existingAlias loads an alias for UpdateAlias or DeleteAlias and checks
// that the caller may perform op on the key it names.
func (s *KMS) existingAlias(c *call, name, op string) (*aliasRecord, error) {
	if err := validateAliasName(name); err != nil {
		return nil, err
	}
	a, err := getJSON[aliasRecord](c.tx, prefixAlias+name)
	if errors.Is(err, kv.ErrNotFound) {
		return nil, awserr.New(kmsclient.ErrNotFound, "Alias %s is not found.", s.aliasArn(name))
	}
	if err != nil {
		return nil, err
	}
	if _, err := s.useKey(c, a.KeyID, op, nil); err != nil {
		return nil, err
	}
	return a, nil
}

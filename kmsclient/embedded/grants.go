package embedded

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"slices"
	"unicode/utf8"

	"github.com/ebs-dev/ebs/internal/awserr"
	"github.com/ebs-dev/ebs/internal/awstime"
	"github.com/ebs-dev/ebs/internal/kv"
	"github.com/ebs-dev/ebs/kmsclient"
)

// grant tokens are indexed by their SHA-256: granttoken/<hex> -> "<key id>/<grant id>".
const prefixGrantToken = "granttoken/"

const maxGrantsPerKey = 50000

var grantOperations = []string{
	"Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
	"ReEncryptFrom", "ReEncryptTo", "CreateGrant", "RetireGrant", "DescribeKey",
}

// grantAllows reports whether a grant on k covers the request (grantCovers).
func (s *KMS) grantAllows(c *call, k *keyRecord, action string, encCtx map[string]string) (bool, error) {
	if !slices.Contains(grantOperations, action) {
		return false, nil
	}
	found := false
	err := scanJSON(c.tx, prefixGrant+k.ID+"/", func(g *grantRecord) error {
		if grantCovers(c, g, action, encCtx) {
			found = true
			return kv.ErrStop
		}
		return nil
	})
	return found, err
}

func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// CreateGrant lets a grantee principal perform some operations with a key,
// optionally only with some encryption contexts.
func (s *KMS) CreateGrant(ctx context.Context, in *kmsclient.CreateGrantInput) (*kmsclient.CreateGrantOutput, error) {
	return run(s, ctx, "CreateGrant", in, func(c *call) (*kmsclient.CreateGrantOutput, error) {
		if err := validateGrant(in); err != nil {
			return nil, err
		}
		k, err := s.useKey(c, in.KeyID, "CreateGrant", nil)
		if err != nil {
			return nil, err
		}
		if err := usable(k); err != nil {
			return nil, err
		}
		grants, err := s.keyGrants(c.tx, k.ID)
		if err != nil {
			return nil, err
		}
		if len(grants) >= maxGrantsPerKey {
			return nil, awserr.New(kmsclient.ErrLimitExceeded, "%s already has %d grants.", k.Arn, maxGrantsPerKey)
		}
		g, token := s.newGrant(k, in)
		c.response = map[string]any{"grantId": g.ID}
		if err := putJSON(c.tx, prefixGrant+k.ID+"/"+g.ID, g); err != nil {
			return nil, err
		}
		return &kmsclient.CreateGrantOutput{GrantToken: token, GrantID: g.ID}, c.tx.Set([]byte(prefixGrantToken+g.TokenHash), []byte(k.ID+"/"+g.ID))
	})
}

// Grant parameter limits of the KMS API model and of AWS's grant
// constraints.
const (
	maxPrincipalLength      = 256
	maxConstraintPairs      = 8
	maxConstraintValueChars = 384
)

func validateGrant(in *kmsclient.CreateGrantInput) error {
	if err := validateGrantPrincipal("granteePrincipal", in.GranteePrincipal); err != nil {
		return err
	}
	if in.RetiringPrincipal != "" {
		if err := validateGrantPrincipal("retiringPrincipal", in.RetiringPrincipal); err != nil {
			return err
		}
	}
	if len(in.Operations) == 0 {
		return awserr.New(kmsclient.ErrValidation, "1 validation error detected: Value null at 'operations' failed to satisfy constraint: Member must not be null")
	}
	for _, op := range in.Operations {
		if !slices.Contains(grantOperations, op) {
			return awserr.New(kmsclient.ErrValidation, "1 validation error detected: Value '[%s]' at 'operations' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: %v]", op, grantOperations)
		}
	}
	return validateConstraints(in.Constraints)
}

func validateGrantPrincipal(member, p string) error {
	switch {
	case p == "":
		return awserr.New(kmsclient.ErrValidation, "1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", member)
	case utf8.RuneCountInString(p) > maxPrincipalLength:
		return awserr.New(kmsclient.ErrValidation, "1 validation error detected: Value at '%s' failed to satisfy constraint: Member must have length less than or equal to %d", member, maxPrincipalLength)
	case !validPrincipalArn(p):
		return awserr.New(kmsclient.ErrValidation, "%s %q is not a valid principal ARN.", member, p)
	}
	return nil
}

func validateConstraints(cs *kmsclient.GrantConstraints) error {
	if cs == nil {
		return nil
	}
	if len(cs.EncryptionContextSubset) > 0 && len(cs.EncryptionContextEquals) > 0 {
		return awserr.New(kmsclient.ErrValidation, "More than one constraint supplied")
	}
	for _, pairs := range []map[string]string{cs.EncryptionContextSubset, cs.EncryptionContextEquals} {
		if len(pairs) > maxConstraintPairs {
			return awserr.New(kmsclient.ErrValidation, "A grant constraint can hold at most %d encryption context pairs; it has %d.", maxConstraintPairs, len(pairs))
		}
		for k, v := range pairs {
			if k == "" {
				return awserr.New(kmsclient.ErrValidation, "Encryption context keys must not be empty.")
			}
			if utf8.RuneCountInString(v) > maxConstraintValueChars {
				return awserr.New(kmsclient.ErrValidation, "The value of %q in a grant constraint is longer than %d characters.", k, maxConstraintValueChars)
			}
		}
	}
	return nil
}

func (s *KMS) newGrant(k *keyRecord, in *kmsclient.CreateGrantInput) (*grantRecord, string) {
	id, tok := make([]byte, 32), make([]byte, 48)
	rand.Read(id)
	rand.Read(tok)
	token := base64.RawURLEncoding.EncodeToString(tok)
	return &grantRecord{
		ID: hex.EncodeToString(id), KeyID: k.ID, Name: in.Name, TokenHash: tokenHash(token), Created: s.now(),
		Grantee: in.GranteePrincipal, Retiring: in.RetiringPrincipal, IssuingAccount: rootARN(s.account),
		Operations: slices.Clone(in.Operations), Constraints: (*grantConstraints)(in.Constraints).clone(),
	}, token
}

func (s *KMS) keyGrants(tx *kv.Txn, keyID string) ([]*grantRecord, error) {
	var out []*grantRecord
	err := scanJSON(tx, prefixGrant+keyID+"/", func(g *grantRecord) error {
		out = append(out, g)
		return nil
	})
	return out, err
}

// ListGrants lists a key's grants.
func (s *KMS) ListGrants(ctx context.Context, in *kmsclient.ListGrantsInput) (*kmsclient.ListGrantsOutput, error) {
	return run(s, ctx, "ListGrants", in, func(c *call) (*kmsclient.ListGrantsOutput, error) {
		k, err := s.useKey(c, in.KeyID, "ListGrants", nil)
		if err != nil {
			return nil, err
		}
		out := &kmsclient.ListGrantsOutput{Grants: []kmsclient.GrantListEntry{}}
		next, err := page(c.tx, prefixGrant+k.ID+"/", in.Limit, in.Marker, func(g *grantRecord) {
			if (in.GrantID == "" || g.ID == in.GrantID) && (in.GranteePrincipal == "" || g.Grantee == in.GranteePrincipal) {
				out.Grants = append(out.Grants, kmsclient.GrantListEntry{
					KeyID: k.Arn, GrantID: g.ID, Name: g.Name, CreationDate: awstime.New(g.Created),
					GranteePrincipal: g.Grantee, RetiringPrincipal: g.Retiring, IssuingAccount: g.IssuingAccount,
					Operations: g.Operations, Constraints: (*kmsclient.GrantConstraints)(g.Constraints),
				})
			}
		})
		out.NextMarker, out.Truncated = next, next != ""
		return out, err
	})
}

// RevokeGrant removes a grant; key administrators call it.
func (s *KMS) RevokeGrant(ctx context.Context, in *kmsclient.RevokeGrantInput) (*kmsclient.Empty, error) {
	return run(s, ctx, "RevokeGrant", in, func(c *call) (*kmsclient.Empty, error) {
		k, err := s.useKey(c, in.KeyID, "RevokeGrant", nil)
		if err != nil {
			return nil, err
		}
		g, err := getJSON[grantRecord](c.tx, prefixGrant+k.ID+"/"+in.GrantID)
		if errors.Is(err, kv.ErrNotFound) {
			return nil, awserr.New(kmsclient.ErrInvalidGrantID, "Grant ID %s is not valid for %s.", in.GrantID, k.Arn)
		}
		if err != nil {
			return nil, err
		}
		return &kmsclient.Empty{}, removeGrant(c.tx, g)
	})
}

func removeGrant(tx *kv.Txn, g *grantRecord) error {
	if err := tx.Delete([]byte(prefixGrantToken + g.TokenHash)); err != nil {
		return err
	}
	return tx.Delete([]byte(prefixGrant + g.KeyID + "/" + g.ID))
}

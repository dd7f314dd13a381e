package embedded

import (
	"context"
	"errors"

	"github.com/ebs-dev/ebs/internal/awserr"
	"github.com/ebs-dev/ebs/internal/kv"
	"github.com/ebs-dev/ebs/kmsclient"
)

// RetireGrant removes a grant. The grant decides who may (mayRetire): its
// retiring principal, its grantee when it includes RetireGrant, and the
// account that owns the key.
func (s *KMS) RetireGrant(ctx context.Context, in *kmsclient.RetireGrantInput) (*kmsclient.Empty, error) {
	return run(s, ctx, "RetireGrant", in, func(c *call) (*kmsclient.Empty, error) {
		g, err := s.findGrant(c, in)
		if err != nil {
			return nil, err
		}
		k, err := s.loadKey(c.tx, keyRef{id: g.KeyID})
		if err != nil {
			return nil, err
		}
		c.touch(k)
		if err := s.mayRetire(c, k, g); err != nil {
			return nil, err
		}
		return &kmsclient.Empty{}, removeGrant(c.tx, g)
	})
}

func (s *KMS) findGrant(c *call, in *kmsclient.RetireGrantInput) (*grantRecord, error) {
	key := ""
	switch {
	case in.GrantToken != "":
		ref, err := c.tx.Get([]byte(prefixGrantToken + tokenHash(in.GrantToken)))
		if errors.Is(err, kv.ErrNotFound) {
			return nil, awserr.New(kmsclient.ErrInvalidGrantToken, "Grant token is not valid.")
		}
		if err != nil {
			return nil, err
		}
		key = prefixGrant + string(ref)
	case in.KeyID != "" && in.GrantID != "":
		ref, err := s.parseKeyRef(in.KeyID)
		if err != nil {
			return nil, err
		}
		k, err := s.loadKey(c.tx, ref)
		if err != nil {
			return nil, err
		}
		key = prefixGrant + k.ID + "/" + in.GrantID
	default:
		return nil, awserr.New(kmsclient.ErrValidation, "Specify a GrantToken, or a KeyId and a GrantId.")
	}
	g, err := getJSON[grantRecord](c.tx, key)
	if errors.Is(err, kv.ErrNotFound) {
		return nil, awserr.New(kmsclient.ErrNotFound, "Grant %s does not exist.", in.GrantID)
	}
	return g, err
}

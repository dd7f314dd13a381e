package embedded

import (
	"context"
	"slices"
	"strings"

	"github.com/ebs-dev/ebs/internal/awserr"
	"github.com/ebs-dev/ebs/kmsclient"
)

func validateTags(tags []kmsclient.Tag) error {
	seen := map[string]bool{}
	for _, t := range tags {
		switch {
		case t.TagKey == "" || len(t.TagKey) > 128 || len(t.TagValue) > 256:
			return awserr.New(kmsclient.ErrTag, "Tag keys must be 1-128 characters and values at most 256.")
		case strings.HasPrefix(t.TagKey, "aws:"):
			return awserr.New(kmsclient.ErrTag, "Tag keys beginning with aws: are reserved.")
		case seen[t.TagKey]:
			return awserr.New(kmsclient.ErrTag, "Duplicate tag key %s.", t.TagKey)
		}
		seen[t.TagKey] = true
	}
	if len(tags) > 50 {
		return awserr.New(kmsclient.ErrTag, "A key can have at most 50 tags.")
	}
	return nil
}

// TagResource adds or replaces tags of a customer managed key.
func (s *KMS) TagResource(ctx context.Context, in *kmsclient.TagResourceInput) (*kmsclient.Empty, error) {
	return run(s, ctx, "TagResource", in, func(c *call) (*kmsclient.Empty, error) {
		k, err := s.taggableKey(c, in.KeyID, "TagResource")
		if err != nil {
			return nil, err
		}
		for _, t := range in.Tags {
			k.Tags = slices.DeleteFunc(k.Tags, func(old kmsclient.Tag) bool { return old.TagKey == t.TagKey })
		}
		k.Tags = append(k.Tags, in.Tags...)
		if err := validateTags(k.Tags); err != nil {
			return nil, err
		}
		return &kmsclient.Empty{}, s.saveKey(c, k)
	})
}

// UntagResource removes tags from a customer managed key.
func (s *KMS) UntagResource(ctx context.Context, in *kmsclient.UntagResourceInput) (*kmsclient.Empty, error) {
	return run(s, ctx, "UntagResource", in, func(c *call) (*kmsclient.Empty, error) {
		k, err := s.taggableKey(c, in.KeyID, "UntagResource")
		if err != nil {
			return nil, err
		}
		k.Tags = slices.DeleteFunc(k.Tags, func(t kmsclient.Tag) bool { return slices.Contains(in.TagKeys, t.TagKey) })
		return &kmsclient.Empty{}, s.saveKey(c, k)
	})
}

func (s *KMS) taggableKey(c *call, keyID, op string) (*keyRecord, error) {
	k, err := s.useKey(c, keyID, op, nil)
	if err != nil {
		return nil, err
	}
	if err := customerManaged(k, "tag"); err != nil {
		return nil, err
	}
	return k, notPendingDeletion(k)
}

// ListResourceTags lists a key's tags.
func (s *KMS) ListResourceTags(ctx context.Context, in *kmsclient.ListInput) (*kmsclient.ListResourceTagsOutput, error) {
	return run(s, ctx, "ListResourceTags", in, func(c *call) (*kmsclient.ListResourceTagsOutput, error) {
		k, err := s.useKey(c, in.KeyID, "ListResourceTags", nil)
		if err != nil {
			return nil, err
		}
		tags := k.Tags
		if tags == nil {
			tags = []kmsclient.Tag{}
		}
		return &kmsclient.ListResourceTagsOutput{Tags: tags}, nil
	})
}

package embedded

import (
	"context"
	"strings"
	"unicode/utf8"

	"github.com/ebs-dev/ebs/internal/awserr"
	"github.com/ebs-dev/ebs/kmsclient"
	"github.com/ebs-dev/ebs/kmsclient/policy"
)

// authorize decides whether the caller may perform action ("Decrypt",
// "ReEncryptFrom", ...) on key k with the given encryption context: an
// explicit Deny in the key policy wins, then an Allow in the policy, then a
// grant that covers the request (grantAllows); otherwise
// AccessDeniedException.
func (s *KMS) authorize(c *call, k *keyRecord, action string, encCtx map[string]string) error {
	decision, err := s.evaluate(c, k, action, encCtx)
	if err != nil {
		return err
	}
	switch decision {
	case policy.Deny:
		return s.denied(c.caller, k, action, "with an explicit deny in a resource-based policy")
	case policy.Allow:
		return nil
	}
	ok, err := s.grantAllows(c, k, action, encCtx)
	if err != nil {
		return err
	}
	if ok {
		return nil
	}
	return s.denied(c.caller, k, action, "because no resource-based policy allows the kms:"+action+" action")
}

// evaluate decides action on k by k's key policy alone.
func (s *KMS) evaluate(c *call, k *keyRecord, action string, encCtx map[string]string) (policy.Decision, error) {
	doc, err := s.policies.parse(k.Policy)
	if err != nil {
		return policy.NotApplicable, awserr.New(kmsclient.ErrInternal, "The key policy of %s cannot be read: %v", k.Arn, err)
	}
	r, err := s.policyRequest(c, k, action, encCtx, doc)
	if err != nil {
		return policy.NotApplicable, err
	}
	return doc.Evaluate(r), nil
}

func (s *KMS) denied(c kmsclient.Caller, k *keyRecord, action, why string) error {
	return awserr.New(kmsclient.ErrAccessDenied, "User: %s is not authorized to perform: kms:%s on resource: %s %s",
		c.ARN, action, k.Arn, why)
}

// policyRequest is the request doc decides: who, what, on which key, and
// the condition keys (conditionKeys).
func (s *KMS) policyRequest(c *call, k *keyRecord, action string, encCtx map[string]string, doc *policy.Document) (policy.Request, error) {
	ctx, err := s.conditionKeys(c, k, action, encCtx, doc)
	if err != nil {
		return policy.Request{}, err
	}
	return policy.Request{Principal: c.caller.ARN, Account: c.caller.AccountID, Action: "kms:" + action, Resource: k.Arn, Context: ctx}, nil
}

// Key policy quotas: AWS's 32 KB, and the API model's length limit beyond
// which a request is refused before the quota is checked.
const (
	maxPolicyBytes = 32 << 10
	maxPolicyChars = 131072
)

// checkPolicy validates a key policy for CreateKey and PutKeyPolicy: size,
// grammar, the rules for a new policy, and AWS's lockout safety check (the
// caller must still be allowed to call PutKeyPolicy) unless bypassed.
func (s *KMS) checkPolicy(c *call, k *keyRecord, text string, bypass bool) error {
	if utf8.RuneCountInString(text) > maxPolicyChars {
		return awserr.New(kmsclient.ErrValidation, "1 validation error detected: Value at 'policy' failed to satisfy constraint: Member must have length less than or equal to %d", maxPolicyChars)
	}
	if len(text) > maxPolicyBytes {
		return awserr.New(kmsclient.ErrLimitExceeded, "The key policy is %d bytes, over the quota of %d bytes (32 KB).", len(text), maxPolicyBytes)
	}
	doc, err := s.policies.parse(text)
	if err != nil {
		return err
	}
	if err := policy.CheckNew(text, doc); err != nil {
		return err
	}
	if bypass {
		return nil
	}
	r, err := s.policyRequest(c, k, "PutKeyPolicy", nil, doc)
	if err != nil {
		return err
	}
	if doc.Evaluate(r) != policy.Allow {
		return awserr.New(policy.ErrMalformed, "The new key policy will not allow you to update the key policy in the future.")
	}
	return nil
}

// GetKeyPolicy returns the key's policy (its only policy is named "default").
func (s *KMS) GetKeyPolicy(ctx context.Context, in *kmsclient.GetKeyPolicyInput) (*kmsclient.GetKeyPolicyOutput, error) {
	return run(s, ctx, "GetKeyPolicy", in, func(c *call) (*kmsclient.GetKeyPolicyOutput, error) {
		k, err := s.useKey(c, in.KeyID, "GetKeyPolicy", nil)
		if err != nil {
			return nil, err
		}
		if err := checkPolicyName(in.PolicyName); err != nil {
			return nil, err
		}
		return &kmsclient.GetKeyPolicyOutput{Policy: k.Policy, PolicyName: "default"}, nil
	})
}

// PutKeyPolicy replaces a customer managed key's policy.
func (s *KMS) PutKeyPolicy(ctx context.Context, in *kmsclient.PutKeyPolicyInput) (*kmsclient.Empty, error) {
	return run(s, ctx, "PutKeyPolicy", in, func(c *call) (*kmsclient.Empty, error) {
		k, err := s.useKey(c, in.KeyID, "PutKeyPolicy", nil)
		if err != nil {
			return nil, err
		}
		if err := checkPolicyName(in.PolicyName); err != nil {
			return nil, err
		}
		if k.Manager == managerAWS {
			return nil, awserr.New(kmsclient.ErrUnsupportedOperation, "%s is an AWS managed key; its key policy cannot be changed.", k.Arn)
		}
		if err := s.checkPolicy(c, k, in.Policy, in.BypassPolicyLockoutSafetyCheck); err != nil {
			return nil, err
		}
		k.Policy = in.Policy
		return &kmsclient.Empty{}, s.saveKey(c, k)
	})
}

// ListKeyPolicies lists the names of the key's policies: always "default".
func (s *KMS) ListKeyPolicies(ctx context.Context, in *kmsclient.ListInput) (*kmsclient.ListKeyPoliciesOutput, error) {
	return run(s, ctx, "ListKeyPolicies", in, func(c *call) (*kmsclient.ListKeyPoliciesOutput, error) {
		if _, err := s.useKey(c, in.KeyID, "ListKeyPolicies", nil); err != nil {
			return nil, err
		}
		return &kmsclient.ListKeyPoliciesOutput{PolicyNames: []string{"default"}}, nil
	})
}

func checkPolicyName(name string) error {
	if name != "" && name != "default" {
		return awserr.New(kmsclient.ErrNotFound, "No such policy exists: %s. The only valid policy name is default.", name)
	}
	return nil
}

// contextSubset reports whether every pair of sub is in ctx.
func contextSubset(sub, ctx map[string]string) bool {
	for k, v := range sub {
		if got, ok := ctx[k]; !ok || got != v {
			return false
		}
	}
	return true
}

func contextEqual(a, b map[string]string) bool {
	return len(a) == len(b) && contextSubset(a, b)
}

func validPrincipalArn(p string) bool {
	return strings.HasPrefix(p, "arn:aws:iam::") || strings.HasPrefix(p, "arn:aws:sts::") ||
		strings.HasSuffix(p, ".amazonaws.com")
}

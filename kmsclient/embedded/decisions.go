package embedded

import (
	"errors"
	"maps"

	"github.com/ebs-dev/ebs/kmsclient"
)

// decision is the outcome of authorizing one action on one key in one pass
// of a call.
type decision struct {
	keyArn, action, policy string
	encCtx                 map[string]string
	err                    error // nil (allowed) or an AccessDeniedException
}

// authorizeOnce is authorize (the key policy, then the grants), reusing the
// decision the call's first pass made with the same inputs if no committed
// change has touched the key since that pass's snapshot. A call's second
// pass runs under the write lock, and every change is published before the
// lock is released, so a reused decision is the one evaluating again would
// give: the evaluation itself ran without the lock.
func (s *KMS) authorizeOnce(c *call, k *keyRecord, action string, encCtx map[string]string) error {
	if d, ok := c.earlierDecision(k, action, encCtx); ok && s.revs.unchanged(c.earlier.since, []string{k.Arn}) {
		return d.err
	}
	if hook := s.beforeEvaluate; hook != nil {
		hook(c.caller.ARN, k.Arn, action)
	}
	err := s.authorize(c, k, action, encCtx)
	if c.firstPass && (err == nil || errors.Is(err, kmsclient.ErrAccessDenied)) {
		c.decisions = append(c.decisions, decision{keyArn: k.Arn, action: action, policy: k.Policy, encCtx: maps.Clone(encCtx), err: err})
	}
	return err
}

// earlierDecision finds the decision the call's first pass made with the
// same key, policy, action and encryption context.
func (c *call) earlierDecision(k *keyRecord, action string, encCtx map[string]string) (decision, bool) {
	if c.earlier == nil {
		return decision{}, false
	}
	for _, d := range c.earlier.decisions {
		if d.keyArn == k.Arn && d.action == action && d.policy == k.Policy && maps.Equal(d.encCtx, encCtx) {
			return d, true
		}
	}
	return decision{}, false
}

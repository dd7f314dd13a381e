package policy

import (
	"fmt"
	"strings"
)

// Request is one call to decide: who calls, which action on which key, and
// the condition keys of the call.
type Request struct {
	// Principal is the caller's ARN: "arn:aws:iam::111122223333:root" or
	// "arn:aws:iam::111122223333:user/alice".
	Principal string
	// Account is the caller's account id. When empty, the account field of
	// Principal is used.
	Account string
	// Action is the KMS action, e.g. "kms:Decrypt".
	Action string
	// Resource is the key ARN.
	Resource string
	// Context maps condition keys (any case) to their values, e.g.
	// "kms:EncryptionContext:aws:ebs:id" -> {"vol-..."},
	// "kms:CallerAccount" -> {"111122223333"}. A key with no values counts
	// as absent.
	Context map[string][]string
}

// account returns the caller's account id.
func (r Request) account() string {
	if r.Account != "" {
		return r.Account
	}
	fields := strings.SplitN(r.Principal, ":", 6)
	if len(fields) < 6 || fields[0] != "arn" {
		return ""
	}
	return fields[4]
}

// Decision is the outcome of evaluating a policy for a request.
type Decision int

// The decisions. NotApplicable is an implicit deny: no statement allowed or
// denied the request.
const (
	NotApplicable Decision = iota
	Allow
	Deny // an explicit Deny matched
)

func (d Decision) String() string {
	switch d {
	case Allow:
		return "Allow"
	case Deny:
		return "Deny"
	case NotApplicable:
		return "NotApplicable"
	}
	return fmt.Sprintf("Decision(%d)", int(d))
}

// Evaluate decides r: Deny when a Deny statement applies, else Allow when an
// Allow statement applies, else NotApplicable. A nil document decides
// NotApplicable.
//
// Cost: the request context is indexed once (O(its size)); then every
// statement tests the action and resource with one hash lookup and one
// globSet each, and every condition its key's values, each value with one
// hash lookup and one globSet pass. With V the largest total size in runes
// of one key's values, P the number of pattern characters in the policy and
// C its number of conditions, an evaluation takes O(V × (P/64 + C)) time at
// worst, independent of how the wildcards are arranged.
func (d *Document) Evaluate(r Request) Decision {
	if d == nil {
		return NotApplicable
	}
	c := d.compiled
	if c == nil {
		c = compile(d)
	}
	e := evaluation{r: r, action: strings.ToLower(r.Action), ctx: c.foldContext(r.Context)}
	decision := NotApplicable
	for i := range c.statements {
		s := &c.statements[i]
		if !e.applies(s) {
			continue
		}
		switch s.Effect {
		case EffectDeny:
			return Deny
		case EffectAllow:
			decision = Allow
		}
	}
	return decision
}

// UsesConditionKey reports whether a condition of the document tests the
// key (compared ignoring case), so that a caller can skip computing keys
// that no condition reads.
func (d *Document) UsesConditionKey(key string) bool {
	if d == nil {
		return false
	}
	c := d.compiled
	if c == nil {
		c = compile(d)
	}
	return c.keys[fold(key)]
}

// evaluation is one request being decided.
type evaluation struct {
	r      Request
	action string              // lowercased
	ctx    map[string][]string // by folded key
	buf    []uint64            // scratch space of the globSets
}

// applies reports whether the statement's principal, action, resource and
// conditions all match the request.
func (e *evaluation) applies(s *compiledStatement) bool {
	return s.principalApplies(e.r) && e.actionApplies(s) && e.resourceApplies(s) && e.conditionsHold(s)
}

func (s *Statement) principalApplies(r Request) bool {
	switch {
	case s.Principal != nil:
		return s.Principal.matches(r)
	case s.NotPrincipal != nil:
		return !s.NotPrincipal.matches(r)
	}
	return false
}

func (e *evaluation) actionApplies(s *compiledStatement) bool {
	switch {
	case !s.actions.empty():
		return s.actions.any(e.action, &e.buf)
	case !s.notActions.empty():
		return !s.notActions.any(e.action, &e.buf)
	}
	return false
}

func (e *evaluation) resourceApplies(s *compiledStatement) bool {
	switch {
	case !s.resources.empty():
		return s.resources.any(e.r.Resource, &e.buf)
	case !s.notResources.empty():
		return !s.notResources.any(e.r.Resource, &e.buf)
	}
	return true
}

func (e *evaluation) conditionsHold(s *compiledStatement) bool {
	for i := range s.conditions {
		c := &s.conditions[i]
		if !c.holds(e.ctx[c.key], &e.buf) {
			return false
		}
	}
	return true
}

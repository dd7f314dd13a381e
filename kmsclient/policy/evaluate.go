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
func (d *Document) Evaluate(r Request) Decision {
	if d == nil {
		return NotApplicable
	}
	decision := NotApplicable
	for i := range d.Statements {
		s := &d.Statements[i]
		if !s.applies(r) {
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

// applies reports whether the statement's principal, action, resource and
// conditions all match r.
func (s *Statement) applies(r Request) bool {
	return s.principalApplies(r) && s.actionApplies(r.Action) &&
		s.resourceApplies(r.Resource) && s.conditionsHold(r.Context)
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

func (s *Statement) actionApplies(action string) bool {
	switch {
	case len(s.Action) > 0:
		return anyPattern(s.Action, action, matchWildcardFold)
	case len(s.NotAction) > 0:
		return !anyPattern(s.NotAction, action, matchWildcardFold)
	}
	return false
}

func (s *Statement) resourceApplies(resource string) bool {
	switch {
	case len(s.Resource) > 0:
		return anyPattern(s.Resource, resource, matchWildcard)
	case len(s.NotResource) > 0:
		return !anyPattern(s.NotResource, resource, matchWildcard)
	}
	return true
}

func (s *Statement) conditionsHold(ctx map[string][]string) bool {
	for _, c := range s.Condition {
		if !c.holds(ctx) {
			return false
		}
	}
	return true
}

func anyPattern(patterns []string, s string, match func(pattern, s string) bool) bool {
	for _, p := range patterns {
		if match(p, s) {
			return true
		}
	}
	return false
}

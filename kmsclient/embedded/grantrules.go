package embedded

import (
	"slices"

	"github.com/ebs-dev/ebs/kmsclient"
	"github.com/ebs-dev/ebs/kmsclient/policy"
)

// The rules of grants, as AWS states them (KMS developer guide, "Grants in
// AWS KMS"):
//
//   - A grant's grantee principal names who may use it: that ARN, the
//     sessions of a role it names, every principal of an account whose root
//     it names (policy.PrincipalMatches).
//   - Its encryption context constraint applies to the operations that take
//     a context; DescribeKey and RetireGrant ignore it.
//   - A grant that allows CreateGrant lets its grantee create grants with
//     some or all of its operations and a constraint at least as strict as
//     its own; a principal allowed CreateGrant by the key policy is not so
//     limited.
//   - RetireGrant is decided by the grant, not the key policy (mayRetire).
//     ListGrants and RevokeGrant are never allowed by a grant.

// grantCovers reports whether grant g lets the caller perform action with
// encryption context encCtx or, for CreateGrant, create the grant the
// request asks for.
func grantCovers(c *call, g *grantRecord, action string, encCtx map[string]string) bool {
	if !slices.Contains(g.Operations, action) || !policy.PrincipalMatches(g.Grantee, c.caller.ARN, c.caller.AccountID) {
		return false
	}
	switch action {
	case "DescribeKey", "RetireGrant":
		return true
	case "CreateGrant":
		in, ok := c.in.(*kmsclient.CreateGrantInput)
		return ok && subset(in.Operations, g.Operations) &&
			g.Constraints.atLeastAsStrict((*grantConstraints)(in.Constraints))
	}
	return g.Constraints.allow(encCtx)
}

func subset(sub, set []string) bool {
	for _, x := range sub {
		if !slices.Contains(set, x) {
			return false
		}
	}
	return true
}

// grantConstraints adds matching to the API's constraint shape. An empty
// constraint is no constraint.
type grantConstraints kmsclient.GrantConstraints

func (gc *grantConstraints) equals() map[string]string {
	if gc == nil {
		return nil
	}
	return gc.EncryptionContextEquals
}

func (gc *grantConstraints) subset() map[string]string {
	if gc == nil {
		return nil
	}
	return gc.EncryptionContextSubset
}

// allow reports whether a request's encryption context meets the constraint.
func (gc *grantConstraints) allow(encCtx map[string]string) bool {
	if eq := gc.equals(); len(eq) > 0 {
		return contextEqual(eq, encCtx)
	}
	return contextSubset(gc.subset(), encCtx)
}

// atLeastAsStrict reports whether every context that child allows, gc
// allows too: an Equals parent admits only the same Equals; a Subset
// parent admits a Subset or an Equals that holds all of its pairs.
func (gc *grantConstraints) atLeastAsStrict(child *grantConstraints) bool {
	if eq := gc.equals(); len(eq) > 0 {
		return len(child.equals()) > 0 && contextEqual(eq, child.equals())
	}
	if len(child.equals()) > 0 {
		return contextSubset(gc.subset(), child.equals())
	}
	return contextSubset(gc.subset(), child.subset())
}

func (gc *grantConstraints) clone() *grantConstraints {
	if gc == nil {
		return nil
	}
	return &grantConstraints{EncryptionContextSubset: gc.EncryptionContextSubset, EncryptionContextEquals: gc.EncryptionContextEquals}
}

// mayRetire decides a RetireGrant: allowed to the grant's retiring
// principal, to its grantee when it includes RetireGrant, to the root of the
// account that owns the key, and to the account's other principals when the
// key policy allows them kms:RetireGrant (it stands in for the IAM policy by
// which AWS accounts delegate that permission); an explicit Deny of
// kms:RetireGrant in the key policy refuses everyone.
func (s *KMS) mayRetire(c *call, k *keyRecord, g *grantRecord) error {
	decision, err := s.evaluate(c, k, "RetireGrant", nil)
	if err != nil {
		return err
	}
	if decision == policy.Deny {
		return s.denied(c.caller, k, "RetireGrant", "with an explicit deny in a resource-based policy")
	}
	who := c.caller
	switch {
	case policy.PrincipalMatches(g.Retiring, who.ARN, who.AccountID):
	case slices.Contains(g.Operations, "RetireGrant") && policy.PrincipalMatches(g.Grantee, who.ARN, who.AccountID):
	case who.AccountID == k.Account && (who.ARN == rootARN(k.Account) || decision == policy.Allow):
	default:
		return s.denied(who, k, "RetireGrant", "because the grant "+g.ID+" does not name it as retiring principal or grantee with RetireGrant, and no policy of the key's account allows it")
	}
	return nil
}

func rootARN(account string) string { return "arn:aws:iam::" + account + ":root" }

package policy

import (
	"encoding/json"
	"strings"
)

const invalidPrincipals = "Policy contains a statement with one or more invalid principals."

// principalMembers maps the members of a Principal object to their checks.
var principalMembers = map[string]func(string) bool{
	"AWS":       validAWSPrincipal,
	"Service":   validServicePrincipal,
	"Federated": validFederatedPrincipal,
}

func parsePrincipal(raw json.RawMessage) (*Principal, error) {
	if s, ok := asString(raw); ok {
		if s != "*" {
			return nil, malformed(invalidPrincipals)
		}
		return &Principal{Any: true}, nil
	}
	obj, ok := asObject(raw)
	if !ok || len(obj) == 0 {
		return nil, malformed(invalidPrincipals)
	}
	p := &Principal{}
	for _, name := range sortedKeys(obj) {
		valid, known := principalMembers[name]
		if !known {
			return nil, malformed(invalidPrincipals)
		}
		list, ok := stringList(obj[name])
		if !ok || !allValid(list, valid) {
			return nil, malformed(invalidPrincipals)
		}
		p.set(name, list)
	}
	return p, nil
}

func (p *Principal) set(name string, list []string) {
	switch name {
	case "AWS":
		p.AWS = list
	case "Service":
		p.Service = list
	case "Federated":
		p.Federated = list
	}
}

func allValid(list []string, valid func(string) bool) bool {
	for _, s := range list {
		if !valid(s) {
			return false
		}
	}
	return true
}

// validAWSPrincipal accepts "*", an account id, and the IAM and STS ARNs of
// an account root, a user, a role and an assumed-role session.
func validAWSPrincipal(s string) bool {
	if s == "*" || isAccountID(s) {
		return true
	}
	if rest, ok := strings.CutPrefix(s, "arn:aws:iam::"); ok {
		account, resource, ok := strings.Cut(rest, ":")
		return ok && isAccountID(account) && validIAMResource(resource)
	}
	if rest, ok := strings.CutPrefix(s, "arn:aws:sts::"); ok {
		account, resource, ok := strings.Cut(rest, ":")
		return ok && isAccountID(account) && validSession(resource)
	}
	return false
}

func validIAMResource(r string) bool {
	if r == "root" {
		return true
	}
	if name, ok := strings.CutPrefix(r, "user/"); ok {
		return validPath(name)
	}
	if name, ok := strings.CutPrefix(r, "role/"); ok {
		return validPath(name)
	}
	return false
}

// validSession accepts "assumed-role/<role>/<session>".
func validSession(r string) bool {
	rest, ok := strings.CutPrefix(r, "assumed-role/")
	if !ok {
		return false
	}
	role, session, ok := strings.Cut(rest, "/")
	return ok && validName(role) && validName(session)
}

// validPath accepts a name with an optional IAM path: "a/b/name".
func validPath(p string) bool {
	for seg := range strings.SplitSeq(p, "/") {
		if !validName(seg) {
			return false
		}
	}
	return true
}

// validName accepts the characters IAM allows in user, role and session
// names.
func validName(n string) bool {
	return n != "" && allRunes(n, func(r rune) bool {
		return isAlnum(r) || strings.ContainsRune("+=,.@_-", r)
	})
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	return allRunes(s, func(r rune) bool { return r >= '0' && r <= '9' })
}

// validServicePrincipal accepts names such as "ec2.amazonaws.com".
func validServicePrincipal(s string) bool {
	return s != "" && allRunes(s, func(r rune) bool {
		return isAlnum(r) || r == '.' || r == '-'
	})
}

// validFederatedPrincipal accepts any non-empty name without spaces or
// wildcards (an identity provider's domain or SAML provider ARN).
func validFederatedPrincipal(s string) bool {
	return s != "" && !strings.ContainsAny(s, " \t\r\n*?")
}

// matches reports whether the principal names the caller of r.
func (p *Principal) matches(r Request) bool {
	if p == nil {
		return false
	}
	if p.Any {
		return true
	}
	for _, entry := range p.AWS {
		if awsPrincipalMatches(entry, r) {
			return true
		}
	}
	for _, service := range p.Service {
		if service != "" && service == r.Principal {
			return true
		}
	}
	return false
}

// PrincipalMatches reports whether entry, a principal as a policy or a grant
// names it (an ARN or an account id), covers the caller principalARN of
// account: the same ARN, a session of the named role, or any principal of
// the account the entry names by its root (as a key policy delegates to the
// account, there being no IAM policies).
func PrincipalMatches(entry, principalARN, account string) bool {
	return entry != "" && awsPrincipalMatches(entry, Request{Principal: principalARN, Account: account})
}

// awsPrincipalMatches matches one AWS principal entry. An account root admits
// every principal of its account (there are no IAM policies to consult), and
// a role admits its sessions.
func awsPrincipalMatches(entry string, r Request) bool {
	if entry == "*" {
		return true
	}
	if account, ok := rootAccount(entry); ok {
		return account == r.account()
	}
	if r.Principal == "" {
		return false
	}
	return entry == r.Principal || roleMatchesSession(entry, r.Principal)
}

// rootAccount returns the account of an account id or root ARN.
func rootAccount(entry string) (string, bool) {
	if isAccountID(entry) {
		return entry, true
	}
	rest, ok := strings.CutPrefix(entry, "arn:aws:iam::")
	if !ok {
		return "", false
	}
	account, ok := strings.CutSuffix(rest, ":root")
	return account, ok && isAccountID(account)
}

// roleMatchesSession reports whether caller is a session of role, e.g.
// arn:aws:sts::A:assumed-role/R/s of arn:aws:iam::A:role/path/R.
func roleMatchesSession(role, caller string) bool {
	roleRest, ok := strings.CutPrefix(role, "arn:aws:iam::")
	if !ok {
		return false
	}
	callerRest, ok := strings.CutPrefix(caller, "arn:aws:sts::")
	if !ok {
		return false
	}
	roleAccount, rolePath, ok := strings.Cut(roleRest, ":role/")
	if !ok {
		return false
	}
	callerAccount, session, ok := strings.Cut(callerRest, ":assumed-role/")
	if !ok || callerAccount != roleAccount {
		return false
	}
	roleName := rolePath[strings.LastIndex(rolePath, "/")+1:]
	sessionRole, _, ok := strings.Cut(session, "/")
	return ok && roleName != "" && sessionRole == roleName
}

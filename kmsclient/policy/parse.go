package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/ebs-dev/ebs/internal/awserr"
)

// ErrMalformed is the kind of every parse error (the KMS maps it to
// MalformedPolicyDocumentException).
var ErrMalformed = errors.New("malformed policy document")

// Policy language versions.
const (
	Version2012 = "2012-10-17"
	Version2008 = "2008-10-17"
)

// Effects of a statement.
const (
	EffectAllow = "Allow"
	EffectDeny  = "Deny"
)

// Document is a parsed key policy. A Document that Parse returned must not
// be changed: it holds a compiled form of its statements.
type Document struct {
	Version    string // "2012-10-17" or "2008-10-17" (also when absent)
	ID         string
	Statements []Statement

	compiled *compiled // set by Parse; built per evaluation for a hand-built Document
}

// Statement is one statement of a key policy. Of each pair Principal /
// NotPrincipal, Action / NotAction and Resource / NotResource at most one is
// set; when neither Resource nor NotResource is, the statement applies to
// every resource.
type Statement struct {
	Sid          string
	Effect       string // EffectAllow or EffectDeny
	Principal    *Principal
	NotPrincipal *Principal
	Action       []string
	NotAction    []string
	Resource     []string
	NotResource  []string
	Condition    []Condition // all must hold
}

// Principal is the value of a Principal or NotPrincipal element.
type Principal struct {
	Any       bool     // the string form "*"
	AWS       []string // "*", account ids and IAM / STS ARNs
	Service   []string
	Federated []string
}

// Condition is one key under one operator of a Condition element, e.g.
// {Operator: "StringEquals", Key: "kms:CallerAccount", Values: ["111122223333"]}.
// JSON booleans and numbers are kept as their text ("true", "12").
type Condition struct {
	Operator string
	Key      string
	Values   []string // any may match
}

var (
	topMembers = []string{"Version", "Id", "Statement"}

	statementMembers = []string{"Sid", "Effect", "Principal", "NotPrincipal",
		"Action", "NotAction", "Resource", "NotResource", "Condition"}
)

// Parse validates a JSON key policy with the AWS grammar (see the package
// documentation). Every error wraps ErrMalformed.
func Parse(doc string) (*Document, error) {
	data := []byte(doc)
	if !json.Valid(data) {
		return nil, malformed("Policy document is not valid JSON.")
	}
	top, ok := asObject(data)
	if !ok {
		return nil, malformed("Policy document must be a JSON object.")
	}
	if err := checkMembers(top, topMembers, "Policy document"); err != nil {
		return nil, err
	}
	d := &Document{}
	var err error
	if d.Version, err = parseVersion(top["Version"]); err != nil {
		return nil, err
	}
	if d.ID, err = optionalString(top["Id"], "Id"); err != nil {
		return nil, err
	}
	if d.Statements, err = parseStatements(top["Statement"]); err != nil {
		return nil, err
	}
	d.compiled = compile(d)
	return d, nil
}

func malformed(format string, args ...any) error {
	return awserr.New(ErrMalformed, format, args...)
}

func parseVersion(raw json.RawMessage) (string, error) {
	if raw == nil {
		return Version2008, nil
	}
	v, ok := asString(raw)
	if !ok || (v != Version2012 && v != Version2008) {
		return "", malformed("Policy document has an invalid Version. Valid versions are %s and %s.",
			Version2012, Version2008)
	}
	return v, nil
}

func parseStatements(raw json.RawMessage) ([]Statement, error) {
	if raw == nil {
		return nil, malformed("Policy document must contain a Statement.")
	}
	elems, ok := asArray(raw)
	if !ok {
		elems = []json.RawMessage{raw}
	}
	if len(elems) == 0 {
		return nil, malformed("Policy document must contain at least one statement.")
	}
	out := make([]Statement, 0, len(elems))
	sids := map[string]bool{}
	for _, e := range elems {
		s, err := parseStatement(e)
		if err != nil {
			return nil, err
		}
		if s.Sid != "" && sids[s.Sid] {
			return nil, malformed("Statement IDs (SID) in a single policy must be unique.")
		}
		sids[s.Sid] = true
		out = append(out, s)
	}
	return out, nil
}

func parseStatement(raw json.RawMessage) (Statement, error) {
	var s Statement
	obj, ok := asObject(raw)
	if !ok {
		return s, malformed("Policy contains a statement that is not a JSON object.")
	}
	if err := checkMembers(obj, statementMembers, "Policy statement"); err != nil {
		return s, err
	}
	var err error
	if s.Sid, err = optionalString(obj["Sid"], "Sid"); err != nil {
		return s, err
	}
	if s.Effect, err = parseEffect(obj["Effect"]); err != nil {
		return s, err
	}
	if s.Principal, s.NotPrincipal, err = parsePrincipals(obj); err != nil {
		return s, err
	}
	if s.Action, s.NotAction, err = parseActions(obj); err != nil {
		return s, err
	}
	if s.Resource, s.NotResource, err = parseResources(obj); err != nil {
		return s, err
	}
	s.Condition, err = parseConditions(obj["Condition"])
	return s, err
}

func parseEffect(raw json.RawMessage) (string, error) {
	if raw == nil {
		return "", malformed("Policy contains a statement with no Effect.")
	}
	e, ok := asString(raw)
	if !ok || (e != EffectAllow && e != EffectDeny) {
		return "", malformed("Policy contains a statement with an invalid Effect. Valid effects are Allow and Deny.")
	}
	return e, nil
}

func parsePrincipals(obj map[string]json.RawMessage) (p, notP *Principal, err error) {
	name, raw, err := pick(obj, "Principal", "NotPrincipal")
	if err != nil {
		return nil, nil, err
	}
	if raw == nil {
		return nil, nil, malformed("Policy contains a statement with no principal.")
	}
	pr, err := parsePrincipal(raw)
	if err != nil {
		return nil, nil, err
	}
	if name == "Principal" {
		return pr, nil, nil
	}
	return nil, pr, nil
}

func parseActions(obj map[string]json.RawMessage) (a, notA []string, err error) {
	name, raw, err := pick(obj, "Action", "NotAction")
	if err != nil {
		return nil, nil, err
	}
	if raw == nil {
		return nil, nil, malformed("Policy contains a statement with no Action.")
	}
	list, err := parseList(raw, validAction, "Policy contains a statement with an invalid action")
	if err != nil {
		return nil, nil, err
	}
	if name == "Action" {
		return list, nil, nil
	}
	return nil, list, nil
}

func parseResources(obj map[string]json.RawMessage) (r, notR []string, err error) {
	name, raw, err := pick(obj, "Resource", "NotResource")
	if err != nil || raw == nil {
		return nil, nil, err
	}
	list, err := parseList(raw, validResource, "Policy contains a statement with an invalid resource")
	if err != nil {
		return nil, nil, err
	}
	if name == "Resource" {
		return list, nil, nil
	}
	return nil, list, nil
}

// pick returns the one of the members a and b that obj holds, nil when it
// holds neither, and an error when it holds both.
func pick(obj map[string]json.RawMessage, a, b string) (string, json.RawMessage, error) {
	ra, rb := obj[a], obj[b]
	switch {
	case ra != nil && rb != nil:
		return "", nil, malformed("Policy contains a statement with both %s and %s.", a, b)
	case rb != nil:
		return b, rb, nil
	}
	return a, ra, nil
}

// parseList parses a string or a non-empty list of strings and checks each
// with valid; what names the offending value in the error message.
func parseList(raw json.RawMessage, valid func(string) bool, what string) ([]string, error) {
	list, ok := stringList(raw)
	if !ok {
		return nil, malformed("%s: the value must be a string or a non-empty list of strings.", what)
	}
	for _, v := range list {
		if !valid(v) {
			return nil, malformed("%s: %q.", what, v)
		}
	}
	return list, nil
}

func optionalString(raw json.RawMessage, name string) (string, error) {
	if raw == nil {
		return "", nil
	}
	s, ok := asString(raw)
	if !ok {
		return "", malformed("Policy document has an invalid %s: it must be a string.", name)
	}
	return s, nil
}

// checkMembers rejects members of obj not in allowed, naming the first in
// sorted order so that the message does not depend on map order.
func checkMembers(obj map[string]json.RawMessage, allowed []string, where string) error {
	for _, k := range sortedKeys(obj) {
		if !slices.Contains(allowed, k) {
			return malformed("%s contains an unknown element %q.", where, k)
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// jsonKind returns the first byte of a JSON value: '{', '[', '"', 't', 'f',
// 'n', or a digit or '-' for numbers; 0 for nothing.
func jsonKind(raw json.RawMessage) byte {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return 0
	}
	return raw[0]
}

func asObject(raw json.RawMessage) (map[string]json.RawMessage, bool) {
	if jsonKind(raw) != '{' {
		return nil, false
	}
	var m map[string]json.RawMessage
	return m, json.Unmarshal(raw, &m) == nil
}

func asArray(raw json.RawMessage) ([]json.RawMessage, bool) {
	if jsonKind(raw) != '[' {
		return nil, false
	}
	var a []json.RawMessage
	return a, json.Unmarshal(raw, &a) == nil
}

func asString(raw json.RawMessage) (string, bool) {
	if jsonKind(raw) != '"' {
		return "", false
	}
	var s string
	return s, json.Unmarshal(raw, &s) == nil
}

// stringList parses a string or a non-empty list of strings.
func stringList(raw json.RawMessage) ([]string, bool) {
	if s, ok := asString(raw); ok {
		return []string{s}, true
	}
	elems, ok := asArray(raw)
	if !ok || len(elems) == 0 {
		return nil, false
	}
	out := make([]string, 0, len(elems))
	for _, e := range elems {
		s, ok := asString(e)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// validAction accepts "*" and "service:Action", where the action may hold the
// wildcards * and ?.
func validAction(a string) bool {
	if a == "*" {
		return true
	}
	service, name, ok := strings.Cut(a, ":")
	return ok && service != "" && name != "" &&
		allRunes(service, isServiceRune) && allRunes(name, isActionRune)
}

func isServiceRune(r rune) bool { return isAlnum(r) || r == '-' }

func isActionRune(r rune) bool { return isAlnum(r) || r == '*' || r == '?' }

func isAlnum(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}

func allRunes(s string, ok func(rune) bool) bool {
	for _, r := range s {
		if !ok(r) {
			return false
		}
	}
	return true
}

// validResource accepts "*" and ARNs (six colon-separated fields, the last
// of which may hold colons), wildcards allowed.
func validResource(r string) bool {
	if r == "*" {
		return true
	}
	return strings.HasPrefix(r, "arn:") && strings.Count(r, ":") >= 5 &&
		!strings.ContainsAny(r, " \t\r\n")
}

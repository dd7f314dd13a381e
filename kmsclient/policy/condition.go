package policy

import (
	"encoding/json"
	"strings"
)

// setQualifier is the ForAnyValue: / ForAllValues: prefix of an operator.
type setQualifier int

const (
	singleValue setQualifier = iota
	forAnyValue
	forAllValues
)

// baseOperator compares one request value with one policy value.
type baseOperator struct {
	match   func(request, policy string) bool
	negated bool // true for the Not operators
	null    bool // the Null operator tests presence, not values
}

var baseOperators = map[string]baseOperator{
	"StringEquals":              {match: equals},
	"StringNotEquals":           {match: equals, negated: true},
	"StringEqualsIgnoreCase":    {match: strings.EqualFold},
	"StringNotEqualsIgnoreCase": {match: strings.EqualFold, negated: true},
	"StringLike":                {match: like},
	"StringNotLike":             {match: like, negated: true},
	"ArnEquals":                 {match: like},
	"ArnLike":                   {match: like},
	"ArnNotEquals":              {match: like, negated: true},
	"ArnNotLike":                {match: like, negated: true},
	"Bool":                      {match: strings.EqualFold},
	"Null":                      {null: true},
}

func equals(request, policy string) bool { return request == policy }

func like(request, policy string) bool { return matchWildcard(policy, request) }

// operator is a parsed condition operator such as
// "ForAnyValue:StringLikeIfExists".
type operator struct {
	base     baseOperator
	set      setQualifier
	ifExists bool
}

func parseOperator(name string) (operator, bool) {
	var op operator
	if rest, ok := strings.CutPrefix(name, "ForAnyValue:"); ok {
		op.set, name = forAnyValue, rest
	} else if rest, ok := strings.CutPrefix(name, "ForAllValues:"); ok {
		op.set, name = forAllValues, rest
	}
	if rest, ok := strings.CutSuffix(name, "IfExists"); ok {
		op.ifExists, name = true, rest
	}
	base, ok := baseOperators[name]
	if !ok || base.null && (op.ifExists || op.set != singleValue) {
		return operator{}, false
	}
	op.base = base
	return op, true
}

// parseConditions flattens a Condition element into one Condition per
// operator and key, sorted by operator and key.
func parseConditions(raw json.RawMessage) ([]Condition, error) {
	if raw == nil {
		return nil, nil
	}
	block, ok := asObject(raw)
	if !ok {
		return nil, malformed("Policy contains a statement with an invalid Condition: it must be a JSON object.")
	}
	var out []Condition
	for _, name := range sortedKeys(block) {
		if _, ok := parseOperator(name); !ok {
			return nil, malformed("Policy contains a statement with an unknown condition operator %q.", name)
		}
		conds, err := parseOperatorBlock(name, block[name])
		if err != nil {
			return nil, err
		}
		out = append(out, conds...)
	}
	return out, nil
}

func parseOperatorBlock(name string, raw json.RawMessage) ([]Condition, error) {
	keys, ok := asObject(raw)
	if !ok || len(keys) == 0 {
		return nil, malformed("Policy contains a statement with an invalid Condition: %s must map condition keys to values.", name)
	}
	out := make([]Condition, 0, len(keys))
	for _, key := range sortedKeys(keys) {
		values, ok := conditionValues(keys[key])
		if key == "" || !ok {
			return nil, malformed("Policy contains a statement with an invalid Condition: the value of %q under %s must be a string, boolean, number or a non-empty list of them.", key, name)
		}
		out = append(out, Condition{Operator: name, Key: key, Values: values})
	}
	return out, nil
}

// conditionValues parses a scalar or a non-empty list of scalars; booleans
// and numbers become their JSON text.
func conditionValues(raw json.RawMessage) ([]string, bool) {
	elems, isList := asArray(raw)
	if !isList {
		elems = []json.RawMessage{raw}
	}
	if len(elems) == 0 {
		return nil, false
	}
	out := make([]string, 0, len(elems))
	for _, e := range elems {
		v, ok := scalar(e)
		if !ok {
			return nil, false
		}
		out = append(out, v)
	}
	return out, true
}

func scalar(raw json.RawMessage) (string, bool) {
	switch k := jsonKind(raw); {
	case k == '"':
		return asString(raw)
	case k == 't' || k == 'f' || k == '-' || k >= '0' && k <= '9':
		return strings.TrimSpace(string(raw)), true
	}
	return "", false
}

// holds reports whether the condition is true for the request context. A
// condition whose operator does not parse never holds.
func (c Condition) holds(ctx map[string][]string) bool {
	op, ok := parseOperator(c.Operator)
	if !ok {
		return false
	}
	present := lookup(ctx, c.Key)
	if op.base.null {
		return nullHolds(c.Values, len(present) == 0)
	}
	if len(present) == 0 {
		return op.missing()
	}
	one := func(v string) bool { return op.base.matchesAny(v, c.Values) != op.base.negated }
	switch {
	case op.set == forAllValues:
		return all(present, one)
	case op.set == forAnyValue:
		return anyOf(present, one)
	case op.base.negated:
		return all(present, one)
	}
	return anyOf(present, one)
}

// missing is the result of an operator for a key the request lacks.
func (op operator) missing() bool {
	switch {
	case op.ifExists:
		return true
	case op.set == forAllValues:
		return true
	case op.set == forAnyValue:
		return false
	}
	return op.base.negated
}

func (b baseOperator) matchesAny(request string, policy []string) bool {
	for _, p := range policy {
		if b.match(request, p) {
			return true
		}
	}
	return false
}

// nullHolds implements Null: "true" holds when the key is absent, "false"
// when it is present.
func nullHolds(values []string, absent bool) bool {
	for _, v := range values {
		if strings.EqualFold(v, "true") && absent || strings.EqualFold(v, "false") && !absent {
			return true
		}
	}
	return false
}

// lookup returns the values of key in ctx, comparing key names
// case-insensitively and joining the values of keys that differ only by case.
func lookup(ctx map[string][]string, key string) []string {
	var out []string
	for k, v := range ctx {
		if strings.EqualFold(k, key) {
			out = append(out, v...)
		}
	}
	return out
}

func all(values []string, f func(string) bool) bool {
	for _, v := range values {
		if !f(v) {
			return false
		}
	}
	return true
}

func anyOf(values []string, f func(string) bool) bool {
	for _, v := range values {
		if f(v) {
			return true
		}
	}
	return false
}

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
	if !ok || base.kind == kindNull && (op.ifExists || op.set != singleValue) {
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
		if err := checkValues(name, key, values); err != nil {
			return nil, err
		}
		out = append(out, Condition{Operator: name, Key: key, Values: values})
	}
	return out, nil
}

// checkValues rejects values the operator cannot compare with.
func checkValues(name, key string, values []string) error {
	op, _ := parseOperator(name)
	check, ok := valueChecks[op.base.kind]
	if !ok {
		return nil
	}
	for _, v := range values {
		if !check.valid(v) {
			return malformed("Policy contains a statement with an invalid Condition: the value %q of %q under %s must be %s.", v, key, name, check.what)
		}
	}
	return nil
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

// condition is a Condition compiled for evaluation.
type condition struct {
	op     operator
	valid  bool   // the operator parsed; an invalid condition never holds
	key    string // folded
	values values
}

func compileCondition(c Condition) condition {
	op, ok := parseOperator(c.Operator)
	cc := condition{op: op, valid: ok, key: fold(c.Key)}
	if ok {
		cc.values = compileValues(op.base, c.Values)
	}
	return cc
}

// holds reports whether the condition is true for the request values of its
// key (present: nil or empty when the request lacks the key).
func (c *condition) holds(present []string, buf *[]uint64) bool {
	if !c.valid {
		return false
	}
	op := c.op
	if op.base.kind == kindNull {
		return nullHolds(c.values.nulls, len(present) == 0)
	}
	if len(present) == 0 {
		return op.missing()
	}
	one := func(v string) bool { return c.values.matchesAny(op.base, v, buf) != op.base.negated }
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

// nullHolds implements Null: "true" holds when the key is absent, "false"
// when it is present.
func nullHolds(values []bool, absent bool) bool {
	for _, wantAbsent := range values {
		if wantAbsent == absent {
			return true
		}
	}
	return false
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

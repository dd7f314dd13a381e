package policy

import (
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// kind is how an operator compares a request value with the policy values.
type kind int

const (
	kindString     kind = iota // exact, case-sensitive
	kindStringFold             // exact, ignoring case
	kindLike                   // with * and ?, case-sensitive
	kindArn                    // with * and ?, each of the six ARN fields apart
	kindNumeric
	kindDate
	kindBool
	kindIP
	kindNull // presence, not values
)

// order is the comparison of a numeric or date operator.
type order int

const (
	equal order = iota
	less
	lessOrEqual
	greater
	greaterOrEqual
)

// baseOperator is an operator without its IfExists suffix and set prefix.
type baseOperator struct {
	kind    kind
	order   order
	negated bool // the Not operators: a missing key makes them true
}

var baseOperators = map[string]baseOperator{
	"StringEquals":              {kind: kindString},
	"StringNotEquals":           {kind: kindString, negated: true},
	"StringEqualsIgnoreCase":    {kind: kindStringFold},
	"StringNotEqualsIgnoreCase": {kind: kindStringFold, negated: true},
	"StringLike":                {kind: kindLike},
	"StringNotLike":             {kind: kindLike, negated: true},
	"ArnEquals":                 {kind: kindArn},
	"ArnLike":                   {kind: kindArn},
	"ArnNotEquals":              {kind: kindArn, negated: true},
	"ArnNotLike":                {kind: kindArn, negated: true},
	"NumericEquals":             {kind: kindNumeric},
	"NumericNotEquals":          {kind: kindNumeric, negated: true},
	"NumericLessThan":           {kind: kindNumeric, order: less},
	"NumericLessThanEquals":     {kind: kindNumeric, order: lessOrEqual},
	"NumericGreaterThan":        {kind: kindNumeric, order: greater},
	"NumericGreaterThanEquals":  {kind: kindNumeric, order: greaterOrEqual},
	"DateEquals":                {kind: kindDate},
	"DateNotEquals":             {kind: kindDate, negated: true},
	"DateLessThan":              {kind: kindDate, order: less},
	"DateLessThanEquals":        {kind: kindDate, order: lessOrEqual},
	"DateGreaterThan":           {kind: kindDate, order: greater},
	"DateGreaterThanEquals":     {kind: kindDate, order: greaterOrEqual},
	"Bool":                      {kind: kindBool},
	"IpAddress":                 {kind: kindIP},
	"NotIpAddress":              {kind: kindIP, negated: true},
	"Null":                      {kind: kindNull},
}

// valueChecks reject policy values an operator cannot compare with, so that
// no condition silently never matches (which would make a Deny fail open).
var valueChecks = map[kind]struct {
	valid func(string) bool
	what  string
}{
	kindNumeric: {func(v string) bool { _, ok := parseNumber(v); return ok }, "a number"},
	kindDate:    {func(v string) bool { _, ok := parseDate(v); return ok }, "an ISO 8601 date or epoch seconds"},
	kindIP:      {func(v string) bool { _, ok := parsePrefix(v); return ok }, "an IP address or CIDR range"},
}

func parseNumber(s string) (float64, bool) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return f, err == nil && !math.IsInf(f, 0) && !math.IsNaN(f)
}

// dateLayouts are the W3C profile of ISO 8601 that IAM accepts.
var dateLayouts = []string{
	time.RFC3339Nano, "2006-01-02T15:04Z07:00", "2006-01-02", "2006-01", "2006",
}

// parseDate reads an ISO 8601 date or a number of seconds since the epoch.
func parseDate(s string) (time.Time, bool) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0), true
	}
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// parsePrefix reads a CIDR range or a single address (a /32 or /128).
func parsePrefix(s string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), true
}

func (o order) holds(cmp int) bool {
	switch o {
	case less:
		return cmp < 0
	case lessOrEqual:
		return cmp <= 0
	case greater:
		return cmp > 0
	case greaterOrEqual:
		return cmp >= 0
	}
	return cmp == 0
}

// arnFields splits an ARN into its six colon-separated fields, the last
// keeping its colons. A pattern with fewer fields has its last field match
// the rest of the ARN, colons included (as a whole-string match would),
// rather than never matching.
func arnFields(s string) []string { return strings.SplitN(s, ":", 6) }

// values is the compiled right-hand side of a condition: the policy values
// in the form its operator compares.
type values struct {
	strings matcher         // kindString, kindStringFold (folded), kindLike
	arns    [][]*globSet    // kindArn: six globSets per policy value
	numbers []float64       // kindNumeric
	dates   []time.Time     // kindDate
	bools   map[string]bool // kindBool: lowercased
	ranges  []netip.Prefix  // kindIP
	nulls   []bool          // kindNull: "true" means the key must be absent
}

func compileValues(b baseOperator, list []string) values {
	var v values
	for _, s := range list {
		switch b.kind {
		case kindArn:
			fields := arnFields(s)
			sets := make([]*globSet, len(fields))
			for i, field := range fields {
				sets[i] = newGlobSet([]string{field})
			}
			v.arns = append(v.arns, sets)
		case kindNumeric:
			if n, ok := parseNumber(s); ok {
				v.numbers = append(v.numbers, n)
			}
		case kindDate:
			if t, ok := parseDate(s); ok {
				v.dates = append(v.dates, t)
			}
		case kindIP:
			if p, ok := parsePrefix(s); ok {
				v.ranges = append(v.ranges, p)
			}
		case kindBool:
			if v.bools == nil {
				v.bools = map[string]bool{}
			}
			v.bools[strings.ToLower(s)] = true
		case kindNull:
			switch strings.ToLower(s) {
			case "true":
				v.nulls = append(v.nulls, true)
			case "false":
				v.nulls = append(v.nulls, false)
			}
		}
	}
	switch b.kind {
	case kindString:
		v.strings = newMatcher(list, false)
	case kindStringFold:
		folded := make([]string, len(list))
		for i, s := range list {
			folded[i] = fold(s)
		}
		v.strings = newMatcher(folded, false)
	case kindLike:
		v.strings = newMatcher(list, true)
	}
	return v
}

// matchesAny reports whether the request value r matches any policy value
// under the operator's comparison (not yet negated).
func (v *values) matchesAny(b baseOperator, r string, buf *[]uint64) bool {
	switch b.kind {
	case kindString, kindLike:
		return v.strings.any(r, buf)
	case kindStringFold:
		return v.strings.any(fold(r), buf)
	case kindArn:
		return v.arnMatches(r, buf)
	case kindNumeric:
		n, ok := parseNumber(r)
		return ok && anyHolds(v.numbers, func(p float64) bool { return b.order.holds(cmpFloat(n, p)) })
	case kindDate:
		t, ok := parseDate(r)
		return ok && anyHolds(v.dates, func(p time.Time) bool { return b.order.holds(t.Compare(p)) })
	case kindBool:
		return v.bools[strings.ToLower(r)]
	case kindIP:
		a, err := netip.ParseAddr(r)
		return err == nil && anyHolds(v.ranges, func(p netip.Prefix) bool { return p.Contains(a.Unmap()) })
	}
	return false
}

func (v *values) arnMatches(r string, buf *[]uint64) bool {
	for _, sets := range v.arns {
		fields := strings.SplitN(r, ":", len(sets))
		if len(fields) != len(sets) {
			continue
		}
		match := true
		for i, g := range sets {
			if !g.match(fields[i], buf) {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func anyHolds[T any](list []T, f func(T) bool) bool {
	for _, x := range list {
		if f(x) {
			return true
		}
	}
	return false
}

package policy

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// compiled is a document made ready for evaluation: its patterns as globSets,
// its exact values in hash sets, its condition keys folded, so that an
// evaluation costs time linear in the request (see Evaluate).
type compiled struct {
	statements []compiledStatement
	keys       map[string]bool // the folded condition keys the document tests
}

type compiledStatement struct {
	*Statement
	actions, notActions     matcher // lowercased
	resources, notResources matcher
	conditions              []condition
}

func compile(d *Document) *compiled {
	c := &compiled{keys: map[string]bool{}}
	for i := range d.Statements {
		s := &d.Statements[i]
		cs := compiledStatement{
			Statement:    s,
			actions:      newMatcher(lowerAll(s.Action), true),
			notActions:   newMatcher(lowerAll(s.NotAction), true),
			resources:    newMatcher(s.Resource, true),
			notResources: newMatcher(s.NotResource, true),
		}
		for _, cond := range s.Condition {
			cc := compileCondition(cond)
			c.keys[cc.key] = true
			cs.conditions = append(cs.conditions, cc)
		}
		c.statements = append(c.statements, cs)
	}
	return c
}

func lowerAll(list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = strings.ToLower(s)
	}
	return out
}

// matcher decides whether a string equals, or matches as a wildcard pattern,
// any string of a list: exact strings by hash lookup, patterns by one
// globSet.
type matcher struct {
	n     int
	exact map[string]bool
	globs *globSet
}

// newMatcher compiles list; with wildcards false, * and ? are plain
// characters.
func newMatcher(list []string, wildcards bool) matcher {
	m := matcher{n: len(list), exact: map[string]bool{}}
	var patterns []string
	for _, s := range list {
		if wildcards && hasWildcard(s) {
			patterns = append(patterns, s)
		} else {
			m.exact[s] = true
		}
	}
	if len(patterns) > 0 {
		m.globs = newGlobSet(patterns)
	}
	return m
}

func (m *matcher) empty() bool { return m.n == 0 }

func (m *matcher) any(s string, buf *[]uint64) bool {
	return m.exact[s] || m.globs.match(s, buf)
}

// fold returns s in one canonical case: fold(a) == fold(b) exactly when
// strings.EqualFold(a, b). Each rune becomes the least rune of its simple
// case-folding orbit (for ASCII letters, the upper case).
func fold(s string) string {
	ascii := true
	upper := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
		if 'a' <= c && c <= 'z' {
			upper = false
		}
	}
	if ascii {
		if upper {
			return s
		}
		return strings.ToUpper(s)
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		b.WriteRune(least)
	}
	return b.String()
}

// foldContext indexes a request context by folded key, keeping only the keys
// the document tests and joining the values of keys that differ only by
// case.
func (c *compiled) foldContext(ctx map[string][]string) map[string][]string {
	out := make(map[string][]string, len(c.keys))
	for k, v := range ctx {
		if len(v) == 0 {
			continue
		}
		if f := fold(k); c.keys[f] {
			out[f] = append(out[f][:len(out[f]):len(out[f])], v...)
		}
	}
	return out
}

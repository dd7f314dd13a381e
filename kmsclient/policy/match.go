package policy

import "strings"

// matchWildcard reports whether s matches pattern, in which * matches any
// run of characters (also none) and ? exactly one character. It compares
// runes, runs in O(len(pattern)*len(s)) time at worst and never recurses.
func matchWildcard(pattern, s string) bool {
	if !strings.ContainsAny(pattern, "*?") {
		return pattern == s
	}
	p, t := []rune(pattern), []rune(s)
	pi, ti := 0, 0
	star, resume := -1, 0 // last * seen in p, and where in t it resumes
	for ti < len(t) {
		switch {
		case pi < len(p) && p[pi] == '*':
			star, resume = pi, ti
			pi++
		case pi < len(p) && (p[pi] == '?' || p[pi] == t[ti]):
			pi++
			ti++
		case star >= 0:
			resume++
			pi, ti = star+1, resume
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// matchWildcardFold is matchWildcard ignoring case.
func matchWildcardFold(pattern, s string) bool {
	return matchWildcard(strings.ToLower(pattern), strings.ToLower(s))
}

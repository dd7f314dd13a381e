package policy

import (
	"regexp"
	"strings"
	"testing"
)

func TestMatchWildcard(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true},
		{"", "a", false},
		{"*", "", true},
		{"*", "anything", true},
		{"?", "", false},
		{"?", "é", true},
		{"a*", "a", true},
		{"a*b", "ab", true},
		{"a*b", "axxb", true},
		{"a*b", "axxbx", false},
		{"a*b*c", "abbbcbc", true},
		{"*a*a*a*", "aaa", true},
		{"*a*a*a*", "aa", false},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"**", "x", true},
		{"a*", "b*", false},
		{"*", "*", true},
		{"a*", "a*", true},
		{"kms:*", "kms:Decrypt", true},
		{"kms:*", "kms", false},
		{"arn:aws:kms:*:111122223333:key/*", keyARN, true},
	}
	for _, tt := range tests {
		if got := matchWildcard(tt.pattern, tt.s); got != tt.want {
			t.Errorf("matchWildcard(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

func TestMatchWildcardFold(t *testing.T) {
	if !matchWildcardFold("KMS:generate*", "kms:GenerateDataKey") {
		t.Error("fold match failed")
	}
	if matchWildcardFold("kms:encrypt", "kms:Decrypt") {
		t.Error("fold matched a different action")
	}
}

// TestMatchWildcardAgainstRegexp compares every pattern and string over a
// small alphabet with the equivalent regular expression.
func TestMatchWildcardAgainstRegexp(t *testing.T) {
	words := allWords("ab*?", 4)
	inputs := allWords("ab", 5)
	for _, p := range words {
		re := regexp.MustCompile("^" + globToRegexp(p) + "$")
		for _, s := range inputs {
			if got, want := matchWildcard(p, s), re.MatchString(s); got != want {
				t.Fatalf("matchWildcard(%q, %q) = %v, regexp says %v", p, s, got, want)
			}
		}
	}
}

func globToRegexp(p string) string {
	var b strings.Builder
	for _, r := range p {
		switch r {
		case '*':
			b.WriteString("(?s:.*)")
		case '?':
			b.WriteString("(?s:.)")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	return b.String()
}

// allWords returns every string over alphabet of length at most n.
func allWords(alphabet string, n int) []string {
	words := []string{""}
	last := []string{""}
	for range n {
		var next []string
		for _, w := range last {
			for _, r := range alphabet {
				next = append(next, w+string(r))
			}
		}
		words = append(words, next...)
		last = next
	}
	return words
}

func BenchmarkMatchWildcardWorstCase(b *testing.B) {
	pattern := strings.Repeat("*a", 50) + "b"
	s := strings.Repeat("a", 4096)
	for b.Loop() {
		matchWildcard(pattern, s)
	}
}

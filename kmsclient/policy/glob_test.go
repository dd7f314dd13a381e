package policy

import (
	"regexp"
	"strings"
	"testing"
)

func globMatch(pattern, s string) bool {
	var buf []uint64
	return newGlobSet([]string{pattern}).match(s, &buf)
}

func TestGlob(t *testing.T) {
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
		{"??", "é", false},
		{"a?c", "aéc", true},
		{"é*", "éa", true},
		{"*é", "aé", true},
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
		{"\xff*", "\xff\xfe", true},
		{strings.Repeat("a", 100) + "*", strings.Repeat("a", 100), true},
		{strings.Repeat("a", 100) + "?", strings.Repeat("a", 100), false},
		{"*" + strings.Repeat("?", 70) + "b", strings.Repeat("a", 200) + "b", true},
		{"*" + strings.Repeat("?", 70) + "b", strings.Repeat("a", 69) + "b", false},
	}
	for _, tt := range tests {
		if got := globMatch(tt.pattern, tt.s); got != tt.want {
			t.Errorf("glob %q matches %q = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

// TestGlobAgainstRegexp compares every pattern and string over a small
// alphabet with the equivalent regular expression.
func TestGlobAgainstRegexp(t *testing.T) {
	words := allWords("ab*?", 4)
	inputs := allWords("ab", 5)
	var buf []uint64
	for _, p := range words {
		re := regexp.MustCompile("^" + globToRegexp(p) + "$")
		g := newGlobSet([]string{p})
		for _, s := range inputs {
			if got, want := g.match(s, &buf), re.MatchString(s); got != want {
				t.Fatalf("glob %q matches %q = %v, regexp says %v", p, s, got, want)
			}
		}
	}
}

// TestGlobSetIsUnion checks that a set of patterns matches exactly the
// strings one of them matches, with the patterns packed across word
// boundaries.
func TestGlobSetIsUnion(t *testing.T) {
	words := allWords("ab*?", 3)
	inputs := allWords("ab", 4)
	var buf []uint64
	for i := 0; i+7 <= len(words); i += 5 {
		patterns := words[i : i+7]
		long := strings.Repeat("a", 60+i%9) + "*" // pushes the others across words
		patterns = append([]string{long}, patterns...)
		set := newGlobSet(patterns)
		for _, s := range append(inputs, strings.Repeat("a", 70)) {
			want := false
			for _, p := range patterns {
				want = want || globMatch(p, s)
			}
			if got := set.match(s, &buf); got != want {
				t.Fatalf("set %q matches %q = %v, want %v", patterns, s, got, want)
			}
		}
	}
}

func TestGlobEmptySet(t *testing.T) {
	var buf []uint64
	var nilSet *globSet
	if newGlobSet(nil).match("", &buf) || nilSet.match("x", &buf) {
		t.Error("an empty set matched")
	}
}

func TestFold(t *testing.T) {
	for _, tt := range [][2]string{
		{"kms:CallerAccount", "KMS:calleraccount"},
		{"K", "\u212a"}, // KELVIN SIGN folds to k
		{"s", "\u017f"}, // LATIN SMALL LETTER LONG S folds to s
		{"Straße", "STRASSE"},
		{"é", "É"},
	} {
		same := strings.EqualFold(tt[0], tt[1])
		if got := fold(tt[0]) == fold(tt[1]); got != same {
			t.Errorf("fold(%q) == fold(%q) is %v, EqualFold says %v", tt[0], tt[1], got, same)
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

// BenchmarkGlobWorstCase is a pattern that made a backtracking matcher
// retry every star at every position.
func BenchmarkGlobWorstCase(b *testing.B) {
	g := newGlobSet([]string{strings.Repeat("*a", 50) + "b"})
	s := strings.Repeat("a", 4096)
	var buf []uint64
	for b.Loop() {
		g.match(s, &buf)
	}
}

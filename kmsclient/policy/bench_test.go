package policy

import (
	"encoding/json"
	"strings"
	"testing"
)

// The worst cases an attacker can build within AWS's caps: a key policy of
// at most 32 KB full of wildcards, evaluated against a request whose
// encryption context is 8 KB. Each benchmark evaluates one request; the
// policy's size is reported as a metric.

const (
	benchPolicyBytes  = 28 << 10 // the wildcards take ~28 KB of the 32 KB policy
	benchContextBytes = 8 << 10
)

// benchContext is the request context the KMS builds for an encryption
// context.
func benchContext(encCtx map[string]string) map[string][]string {
	ctx := map[string][]string{"kms:CallerAccount": {account}}
	for k, v := range encCtx {
		ctx["kms:EncryptionContext:"+k] = []string{v}
		ctx["kms:EncryptionContextKeys"] = append(ctx["kms:EncryptionContextKeys"], k)
	}
	return ctx
}

// benchPolicy is one Allow statement per condition block.
func benchPolicy(b *testing.B, conditions ...map[string]map[string]any) *Document {
	b.Helper()
	stmts := make([]map[string]any, 0, len(conditions))
	for _, c := range conditions {
		stmts = append(stmts, map[string]any{"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Condition": c})
	}
	raw, err := json.Marshal(map[string]any{"Version": Version2012, "Statement": stmts})
	if err != nil {
		b.Fatal(err)
	}
	if len(raw) > 32<<10 {
		b.Fatalf("policy is %d bytes, over the 32 KB quota", len(raw))
	}
	d, err := Parse(string(raw))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(len(raw)), "policy-bytes")
	return d
}

func benchEvaluate(b *testing.B, d *Document, encCtx map[string]string) {
	r := req(alice, "kms:Decrypt")
	r.Context = benchContext(encCtx)
	b.ResetTimer()
	for b.Loop() {
		if got := d.Evaluate(r); got != NotApplicable {
			b.Fatalf("Evaluate = %v", got)
		}
	}
}

// words returns n distinct strings of length letters from alphabet.
func words(alphabet string, length, n int) []string {
	out := []string{""}
	for range length {
		var next []string
		for _, w := range out {
			for _, c := range alphabet {
				next = append(next, w+string(c))
			}
		}
		out = next
	}
	return out[:n]
}

// caseVariants returns n spellings of s that differ only by case.
func caseVariants(s string, n int) []string {
	out := make([]string, 0, n)
	for i := range n {
		r, bit := []rune(s), 0
		for j, c := range r {
			if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
				if i>>bit&1 == 1 {
					r[j] ^= 0x20
				}
				bit++
			}
		}
		out = append(out, string(r))
	}
	return out
}

// One pattern "*a*a*...*a*b" of 28 KB against an 8 KB value of a's: the
// greedy backtracking matcher retries every star at every position.
func BenchmarkEvaluateLongPattern(b *testing.B) {
	pattern := strings.Repeat("*a", benchPolicyBytes/2-1) + "*b"
	d := benchPolicy(b, map[string]map[string]any{"StringLike": {"kms:EncryptionContext:k": pattern}})
	benchEvaluate(b, d, map[string]string{"k": strings.Repeat("a", benchContextBytes-1)})
}

// ~3500 short patterns "*XYZ*" against one 8 KB value they never match.
func BenchmarkEvaluateManyPatternsLongValue(b *testing.B) {
	var patterns []string
	for _, p := range words("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 3, benchPolicyBytes/8) {
		patterns = append(patterns, "*"+p+"*")
	}
	d := benchPolicy(b, map[string]map[string]any{"StringLike": {"kms:EncryptionContext:k": patterns}})
	benchEvaluate(b, d, map[string]string{"k": strings.Repeat("a", benchContextBytes-1)})
}

// ~3500 patterns against the 2048 keys of an 8 KB context (a multi-valued
// key): every key is tried against every pattern.
func BenchmarkEvaluateManyPatternsManyKeys(b *testing.B) {
	var patterns []string
	for _, p := range words("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 3, benchPolicyBytes/8) {
		patterns = append(patterns, "*"+p+"*")
	}
	d := benchPolicy(b, map[string]map[string]any{"ForAnyValue:StringLike": {"kms:EncryptionContextKeys": patterns}})
	encCtx := map[string]string{}
	for _, k := range words("abcdefghijklmnopqrstuvwxyz", 3, benchContextBytes/4) {
		encCtx[k] = "v"
	}
	benchEvaluate(b, d, encCtx)
}

// ~750 conditions on the same 8 KB value (its key spelt in different
// cases), each true only after a full scan, then one that fails.
func BenchmarkEvaluateManyConditionsLongValue(b *testing.B) {
	like := map[string]any{}
	for _, k := range caseVariants("kms:EncryptionContext:k", benchPolicyBytes/37) {
		like[k] = "*a"
	}
	d := benchPolicy(b, map[string]map[string]any{"StringLike": like, "StringNotLike": {"kms:EncryptionContext:k": "*"}})
	benchEvaluate(b, d, map[string]string{"k": strings.Repeat("a", benchContextBytes-1)})
}

// Seven patterns "*aaa...ab" with 4000 a's each against an 8 KB value of
// a's: a backtracking matcher compares up to 4000 characters at each of
// ~4000 starting positions, for each pattern.
func BenchmarkEvaluateLongSegments(b *testing.B) {
	var patterns []string
	for i := range 7 {
		patterns = append(patterns, "*"+strings.Repeat("a", 4000+i)+"b")
	}
	d := benchPolicy(b, map[string]map[string]any{"StringLike": {"kms:EncryptionContext:k": patterns}})
	benchEvaluate(b, d, map[string]string{"k": strings.Repeat("a", benchContextBytes-1)})
}

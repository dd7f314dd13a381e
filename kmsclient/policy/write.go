package policy

import "strings"

// CheckNew applies the rules KMS adds, beyond the grammar Parse checks, when
// a key policy is set by CreateKey or PutKeyPolicy: the characters a key
// policy may hold (printable ASCII and Latin-1, tab, line feed, carriage
// return), and no ForAllValues on a single-valued key for which it matches
// requests that lack the key (KMS's OverlyPermissiveCondition). Policies
// stored before these rules still parse and evaluate. Every error wraps
// ErrMalformed.
func CheckNew(text string, d *Document) error {
	for _, r := range text {
		if !policyRune(r) {
			return malformed("Policy contains the character %U, which a key policy cannot hold: it allows printable ASCII and Latin-1 characters, tab, line feed and carriage return.", r)
		}
	}
	for _, s := range d.Statements {
		for _, c := range s.Condition {
			if err := overlyPermissive(c); err != nil {
				return err
			}
		}
	}
	return nil
}

func policyRune(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' || r >= 0x20 && r <= 0x7e || r >= 0xa0 && r <= 0xff
}

// overlyPermissive refuses ForAllValues on kms:EncryptionContext:<key> and
// aws:RequestTag/<key>: both are single-valued, and ForAllValues holds for
// a request without them.
func overlyPermissive(c Condition) error {
	if !strings.HasPrefix(c.Operator, "ForAllValues:") {
		return nil
	}
	key := strings.ToLower(c.Key)
	switch {
	case strings.HasPrefix(key, "kms:encryptioncontext:"):
		return malformed("OverlyPermissiveCondition:EncryptionContext: Using the ForAllValues set operator with a single-valued condition key matches requests without the specified encryption context or with an unspecified encryption context. To fix, remove ForAllValues.")
	case strings.HasPrefix(key, "aws:requesttag/"):
		return malformed("OverlyPermissiveCondition:RequestTag: Using the ForAllValues set operator with a single-valued condition key matches requests without the specified tag or with an unspecified tag. To fix, remove ForAllValues.")
	}
	return nil
}

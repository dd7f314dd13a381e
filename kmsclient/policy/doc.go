// Package policy parses and evaluates AWS KMS key policies.
//
// Parse checks a JSON key policy against the grammar of the AWS IAM policy
// language as KMS key policies use it and returns a Document; every problem is
// an error of kind ErrMalformed carrying a message in the style of AWS's
// MalformedPolicyDocumentException. Document.Evaluate decides one request:
// Deny when an explicit Deny statement applies, else Allow when an Allow
// statement applies, else NotApplicable (an implicit deny).
//
// The grammar:
//
//   - Top level: Version ("2012-10-17" or "2008-10-17", the default), Id and
//     Statement (one object or a non-empty list). Nothing else.
//   - Statement: Sid (unique in the document), Effect ("Allow" or "Deny"),
//     exactly one of Principal / NotPrincipal, exactly one of Action /
//     NotAction, at most one of Resource / NotResource (absent means "*"),
//     and Condition. Member names are case-sensitive.
//   - Principal: "*" or an object with AWS, Service and Federated members.
//     An AWS principal is "*", a 12-digit account id (that account's root),
//     arn:aws:iam::<account>:root|user/<name>|role/<name> or
//     arn:aws:sts::<account>:assumed-role/<role>/<session>.
//   - Action: "*" or "service:Action", case-insensitive, with * and ?.
//   - Resource: "*" or an ARN, case-sensitive, with * and ?.
//   - Condition: {"Operator": {"key": value or list}}. The operators are the
//     String (Equals, NotEquals, EqualsIgnoreCase, NotEqualsIgnoreCase, Like,
//     NotLike), Arn (Equals, Like, NotEquals, NotLike: each of the six
//     colon-separated fields matched apart), Numeric and Date (Equals,
//     NotEquals, LessThan, LessThanEquals, GreaterThan, GreaterThanEquals;
//     dates in ISO 8601 or epoch seconds), Bool, IpAddress, NotIpAddress (an
//     address or CIDR range) and Null operators, with the IfExists suffix and
//     the ForAnyValue: / ForAllValues: prefixes (neither on Null). A numeric,
//     date or IP value that does not parse makes the document malformed.
//     Binary operators are not supported. Policy variables such as
//     ${aws:username} are compared literally.
//
// CheckNew adds what KMS checks when a policy is set (the characters a key
// policy may hold, ForAllValues on a single-valued key); the 32 KB quota is
// the caller's to check.
//
// Matching principals follows AWS with one simplification: there are no IAM
// policies, so an account's root principal (arn:aws:iam::A:root or bare A)
// admits every principal of account A, as if each had an IAM policy allowing
// everything. A role ARN also matches the role's sessions
// (arn:aws:sts::A:assumed-role/<role>/<session>). Service principals match
// only a caller whose Principal is exactly that service name; Federated
// principals never match.
//
// Conditions: all operators must hold, all keys under an operator must hold,
// and a key holds when any of its values matches. Condition key names compare
// case-insensitively. A key absent from the request makes a positive
// operator false and a negated one true, IfExists makes it true, ForAnyValue
// false and ForAllValues true; Null tests presence.
//
// Matching cost: Parse compiles each list of wildcard patterns (an Action
// list, a Resource list, the values of one condition key) into one
// bit-parallel automaton (globSet) and the exact values into hash sets, so
// a string is tested against a whole list in one pass over its runes, at
// ⌈states/64⌉ word operations per rune, without backtracking. Evaluate's
// bound is stated on it. A compiled Document is immutable and safe for
// concurrent use.
package policy

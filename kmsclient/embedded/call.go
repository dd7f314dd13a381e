package embedded

import (
	"context"
	"encoding/json"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ebs-dev/ebs/internal/awserr"
	"github.com/ebs-dev/ebs/internal/kv"
	"github.com/ebs-dev/ebs/kmsclient"
	"github.com/ebs-dev/ebs/kmsclient/audit"
)

// call is one KMS API call in progress: who makes it, what it touches, and
// what the audit trail will say about it.
type call struct {
	name      string
	caller    kmsclient.Caller
	in        any // the request, for the condition keys of its parameters
	readOnly  bool
	params    map[string]any
	resources []string        // key ARNs the call used
	response  any             // responseElements for management calls; nil for crypto calls
	events    []*audit.Record // service events the call caused (a due rotation or deletion)
	tx        *kv.Txn
}

func (c *call) touch(k *keyRecord) {
	for _, arn := range c.resources {
		if arn == k.Arn {
			return
		}
	}
	c.resources = append(c.resources, k.Arn)
}

// Operations that change nothing (CloudTrail's readOnly).
var readOnlyOps = map[string]bool{
	"DescribeKey": true, "ListKeys": true, "ListAliases": true, "GetKeyPolicy": true,
	"ListKeyPolicies": true, "GetKeyRotationStatus": true, "ListKeyRotations": true,
	"ListGrants": true, "ListResourceTags": true, "Decrypt": true, "Encrypt": true,
	"GenerateDataKey": true, "GenerateDataKeyWithoutPlaintext": true, "ReEncrypt": true,
	"GenerateRandom": true,
}

// Crypto operations log null responseElements, as CloudTrail does.
var cryptoOps = map[string]bool{
	"Decrypt": true, "Encrypt": true, "GenerateDataKey": true,
	"GenerateDataKeyWithoutPlaintext": true, "ReEncrypt": true, "GenerateRandom": true,
}

// run executes fn as the API call name on behalf of the context's caller,
// inside one store transaction under the KMS lock, then records it in the
// audit trail, durably, whether it succeeded or not.
func run[Out any](s *KMS, ctx context.Context, name string, in any, fn func(c *call) (*Out, error)) (*Out, error) {
	caller, ok := kmsclient.CallerFrom(ctx)
	if !ok {
		return nil, awserr.New(kmsclient.ErrAccessDenied, "The request has no caller identity.")
	}
	c := &call{name: name, caller: caller, in: in, readOnly: readOnlyOps[name], params: requestParameters(in)}
	var out *Out
	err := func() error {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.db.Update(func(tx *kv.Txn) error {
			c.tx = tx
			var err error
			out, err = fn(c)
			return err
		})
	}()
	if err != nil && len(c.events) > 0 {
		// The failed call's transaction was discarded, and with it the
		// rotations or deletion that touching its keys applied: apply them
		// for good, and record them once, before the call.
		c.events = nil
		if serr := s.Sweep(ctx); serr != nil {
			s.log.Error("kms sweep after a failed call", "op", name, "err", serr)
		}
	}
	if _, empty := any(out).(*kmsclient.Empty); err == nil && !c.readOnly && c.response == nil && !empty {
		c.response = out // CloudTrail logs null for reads and empty responses
	}
	if aerr := s.appendEvents(append(c.events, s.record(c, err))); aerr != nil {
		s.log.Error("audit trail write failed", "op", name, "err", aerr)
		if err == nil {
			return nil, awserr.New(kmsclient.ErrInternal, "The audit trail could not be written.")
		}
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *KMS) record(c *call, err error) *audit.Record {
	r := &audit.Record{
		UserIdentity:       identity(c.caller),
		EventTime:          s.now(),
		EventSource:        "kms.amazonaws.com",
		EventName:          c.name,
		AWSRegion:          s.region,
		SourceIPAddress:    c.caller.SourceIP,
		UserAgent:          c.caller.UserAgent,
		RequestParameters:  c.params,
		ReadOnly:           c.readOnly,
		ManagementEvent:    true,
		RecipientAccountID: s.account,
		EventCategory:      "Management",
		EventType:          "AwsApiCall",
	}
	if c.response != nil && !cryptoOps[c.name] {
		r.ResponseElements = camelMap(c.response)
	}
	for _, arn := range c.resources {
		r.Resources = append(r.Resources, audit.Resource{AccountID: s.account, Type: "AWS::KMS::Key", ARN: arn})
	}
	if err != nil {
		r.ErrorCode = s.errorCode(err)
		r.ErrorMessage = awserr.Message(err)
	}
	if c.caller.ViaService != "" {
		r.UserIdentity.InvokedBy = strings.SplitN(c.caller.ViaService, ".", 2)[0] + ".amazonaws.com"
	}
	return r
}

// serviceEvent records something KMS did on its own (a scheduled rotation or
// deletion), as CloudTrail does with an AWS service identity.
func (s *KMS) serviceEvent(name string, k *keyRecord) *audit.Record {
	return &audit.Record{
		UserIdentity:       audit.Identity{Type: "AWSService", InvokedBy: "kms.amazonaws.com"},
		EventTime:          s.now(),
		EventSource:        "kms.amazonaws.com",
		EventName:          name,
		AWSRegion:          s.region,
		SourceIPAddress:    "kms.amazonaws.com",
		UserAgent:          "kms.amazonaws.com",
		RequestParameters:  map[string]any{"keyId": k.Arn},
		Resources:          []audit.Resource{{AccountID: s.account, Type: "AWS::KMS::Key", ARN: k.Arn}},
		ManagementEvent:    true,
		RecipientAccountID: s.account,
		EventCategory:      "Management",
		EventType:          "AwsServiceEvent",
	}
}

func identity(c kmsclient.Caller) audit.Identity {
	return audit.Identity{
		Type: c.Type, PrincipalID: c.PrincipalID, ARN: c.ARN, AccountID: c.AccountID,
		AccessKeyID: c.AccessKeyID, UserName: c.UserName,
	}
}

// Members never written to the audit trail: they carry plaintext, ciphertext
// or key material.
var secretMembers = map[string]bool{"Plaintext": true, "CiphertextBlob": true, "GrantToken": true, "GrantTokens": true}

// requestParameters is the request as CloudTrail logs it: camelCase member
// names, no plaintext, ciphertext or tokens.
func requestParameters(in any) map[string]any {
	m := camelMap(in)
	if _, ok := in.(*kmsclient.DecryptInput); ok {
		m["encryptionAlgorithm"] = "SYMMETRIC_DEFAULT"
	}
	return m
}

func camelMap(v any) map[string]any {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil || m == nil {
		return map[string]any{}
	}
	return camel(m).(map[string]any)
}

// Members whose values are the caller's data (encryption contexts), logged
// as given.
var verbatimMembers = map[string]bool{
	"EncryptionContext": true, "SourceEncryptionContext": true, "DestinationEncryptionContext": true,
	"EncryptionContextSubset": true, "EncryptionContextEquals": true,
}

// camel lowercases the first letter of every member name, at every depth,
// but not the keys of an encryption context.
func camel(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, val := range v {
			switch {
			case secretMembers[k]:
			case verbatimMembers[k]:
				out[lowerFirst(k)] = val
			default:
				out[lowerFirst(k)] = camel(val)
			}
		}
		return out
	case []any:
		for i := range v {
			v[i] = camel(v[i])
		}
	}
	return v
}

func lowerFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToLower(r)) + s[n:]
}

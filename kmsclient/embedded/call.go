package embedded

import (
	"context"
	"slices"

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
	wrote     bool            // the call saved a key record
	tx        *kv.Txn

	since     uint64     // revisions.current() before this pass's snapshot
	firstPass bool       // a writer's first pass: keep its decisions
	decisions []decision // authorizations a first pass evaluated
	earlier   *call      // the first pass, whose decisions this one may reuse
}

func (c *call) touch(k *keyRecord) {
	for _, arn := range c.resources {
		if arn == k.Arn {
			return
		}
	}
	c.resources = append(c.resources, k.Arn)
}

// changed reports whether the call's transaction holds writes: a management
// call's change, a key made or saved, or a due rotation or deletion.
func (c *call) changed() bool { return !c.readOnly || c.wrote || len(c.events) > 0 }

// changedKeys returns the ARNs of the keys the call used or its events name.
func (c *call) changedKeys() []string {
	arns := slices.Clone(c.resources)
	for _, ev := range c.events {
		for _, r := range ev.Resources {
			arns = append(arns, r.ARN)
		}
	}
	return arns
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
// and returns only once the call's audit record is durable, whether the call
// succeeded or not.
//
// A call that changes nothing runs on a snapshot without any lock
// (readPass). A call that changes the store runs under the write lock in one
// transaction, after a first pass without the lock has evaluated its
// policies and grants (writePass); its audit records commit in the outbox
// with the change, so that both commit or neither does, then go to the
// trail. Any other call appends its record to the trail before it returns,
// and fails with KMSInternalException if it cannot.
func run[Out any](s *KMS, ctx context.Context, name string, in any, fn func(c *call) (*Out, error)) (*Out, error) {
	caller, ok := kmsclient.CallerFrom(ctx)
	if !ok {
		return nil, awserr.New(kmsclient.ErrAccessDenied, "The request has no caller identity.")
	}
	s.outbox.retry()
	params := requestParameters(in)
	newCall := func() *call {
		return &call{name: name, caller: caller, in: in, readOnly: readOnlyOps[name], params: params}
	}
	if readOnlyOps[name] {
		if c, out, err, done := readPass(s, newCall, fn); done {
			return finish(s, ctx, c, out, err, nil)
		}
	}
	c, out, d, err := writePass(s, newCall, fn)
	return finish(s, ctx, c, out, err, d)
}

// finish answers a call once its records are durable.
func finish[Out any](s *KMS, ctx context.Context, c *call, out *Out, err error, d *delivery) (*Out, error) {
	if err == nil && d != nil {
		// The change and its records committed together: the call has
		// happened, whatever becomes of the delivery to the trail.
		s.outbox.deliver(d)
		return out, nil
	}
	if err != nil && len(c.events) > 0 {
		// The failed call's transaction was discarded, and with it the
		// rotations or deletion that touching its keys applied: apply them
		// for good, and record them once, before the call.
		c.events = nil
		if serr := s.Sweep(ctx); serr != nil {
			s.log.Error("kms sweep after a failed call", "op", c.name, "err", serr)
		}
	}
	if aerr := s.trail.Append(s.records(c, out, err)...); aerr != nil {
		s.log.Error("audit trail write failed", "op", c.name, "err", aerr)
		return nil, awserr.New(kmsclient.ErrInternal, "The audit trail could not be written.")
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

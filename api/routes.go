package api

import (
	"context"
	"time"

	"github.com/ebs-dev/ebs/internal/awserr"
	"github.com/ebs-dev/ebs/internal/awstime"
	"github.com/ebs-dev/ebs/kmsclient"
	"github.com/ebs-dev/ebs/kmsclient/audit"
)

func (s *Server) registerKMS() {
	k := s.cfg.KMS
	for name, h := range map[string]handler{
		"CreateKey":                       op(k.CreateKey),
		"DescribeKey":                     op(k.DescribeKey),
		"ListKeys":                        op(k.ListKeys),
		"EnableKey":                       op(k.EnableKey),
		"DisableKey":                      op(k.DisableKey),
		"UpdateKeyDescription":            op(k.UpdateKeyDescription),
		"ScheduleKeyDeletion":             op(k.ScheduleKeyDeletion),
		"CancelKeyDeletion":               op(k.CancelKeyDeletion),
		"CreateAlias":                     op(k.CreateAlias),
		"UpdateAlias":                     op(k.UpdateAlias),
		"DeleteAlias":                     op(k.DeleteAlias),
		"ListAliases":                     op(k.ListAliases),
		"Encrypt":                         op(k.Encrypt),
		"Decrypt":                         op(k.Decrypt),
		"ReEncrypt":                       op(k.ReEncrypt),
		"GenerateDataKey":                 op(k.GenerateDataKey),
		"GenerateDataKeyWithoutPlaintext": op(k.GenerateDataKeyWithoutPlaintext),
		"GenerateRandom":                  op(k.GenerateRandom),
		"EnableKeyRotation":               op(k.EnableKeyRotation),
		"DisableKeyRotation":              op(k.DisableKeyRotation),
		"GetKeyRotationStatus":            op(k.GetKeyRotationStatus),
		"RotateKeyOnDemand":               op(k.RotateKeyOnDemand),
		"ListKeyRotations":                op(k.ListKeyRotations),
		"GetKeyPolicy":                    op(k.GetKeyPolicy),
		"PutKeyPolicy":                    op(k.PutKeyPolicy),
		"ListKeyPolicies":                 op(k.ListKeyPolicies),
		"CreateGrant":                     op(k.CreateGrant),
		"ListGrants":                      op(k.ListGrants),
		"RetireGrant":                     op(k.RetireGrant),
		"RevokeGrant":                     op(k.RevokeGrant),
		"TagResource":                     op(k.TagResource),
		"UntagResource":                   op(k.UntagResource),
		"ListResourceTags":                op(k.ListResourceTags),
	} {
		s.routes["kms/"+name] = h
	}
}

// Trail is the audit trail LookupEvents reads.
type Trail interface {
	Lookup(q audit.Query) ([]audit.Record, string, error)
}

type lookupAttribute struct {
	AttributeKey   string `json:"AttributeKey"`
	AttributeValue string `json:"AttributeValue"`
}

type lookupEventsInput struct {
	LookupAttributes []lookupAttribute `json:"LookupAttributes"`
	StartTime        *awstime.Epoch    `json:"StartTime"`
	EndTime          *awstime.Epoch    `json:"EndTime"`
	MaxResults       int               `json:"MaxResults"`
	NextToken        string            `json:"NextToken"`
}

type lookupEventsOutput struct {
	Events    []audit.Event `json:"Events"`
	NextToken string        `json:"NextToken,omitempty"`
}

func (s *Server) registerCloudTrail() {
	s.routes["cloudtrail/LookupEvents"] = op(s.lookupEvents)
}

// lookupEvents is CloudTrail's LookupEvents over the KMS audit trail, for
// the principals audit.AuthorizeLookup admits.
func (s *Server) lookupEvents(ctx context.Context, in *lookupEventsInput) (*lookupEventsOutput, error) {
	caller, _ := kmsclient.CallerFrom(ctx)
	if err := audit.AuthorizeLookup(caller.ARN, s.cfg.Account); err != nil {
		return nil, err
	}
	q := audit.Query{MaxResults: in.MaxResults, NextToken: in.NextToken}
	if in.StartTime != nil {
		q.StartTime = in.StartTime.Time
	}
	if in.EndTime != nil {
		q.EndTime = in.EndTime.Time
	}
	if len(in.LookupAttributes) > 1 {
		return nil, awserr.New(audit.ErrInvalidQuery, "You can specify only one lookup attribute.")
	}
	for _, a := range in.LookupAttributes {
		switch a.AttributeKey {
		case "EventName":
			q.EventName = a.AttributeValue
		case "ResourceName":
			q.ResourceName = a.AttributeValue
		case "Username":
			q.Username = a.AttributeValue
		default:
			return nil, awserr.New(audit.ErrInvalidQuery, "Lookup attribute %s is not supported: use EventName, ResourceName or Username.", a.AttributeKey)
		}
	}
	recs, next, err := s.cfg.Trail.Lookup(q)
	if err != nil {
		return nil, err
	}
	out := &lookupEventsOutput{Events: []audit.Event{}, NextToken: next}
	for i := range recs {
		out.Events = append(out.Events, recs[i].Event())
	}
	return out, nil
}

type advanceClockInput struct {
	Seconds float64 `json:"Seconds"`
}

type advanceClockOutput struct {
	Now *awstime.Epoch `json:"Now"`
}

// registerDebug adds Debug/AdvanceClock when the daemon runs with clock
// control (for demos and tests: rotation and deletion happen "now").
func (s *Server) registerDebug() {
	if s.cfg.Clock == nil {
		return
	}
	s.routes["debug/AdvanceClock"] = op(func(ctx context.Context, in *advanceClockInput) (*advanceClockOutput, error) {
		if c, _ := kmsclient.CallerFrom(ctx); c.Type != "Root" {
			return nil, awserr.New(kmsclient.ErrAccessDenied, "Only root may move the daemon's clock.")
		}
		now, err := s.cfg.Clock.Advance(ctx, time.Duration(in.Seconds*float64(time.Second)))
		if err != nil {
			return nil, err
		}
		return &advanceClockOutput{Now: awstime.New(now)}, nil
	})
}

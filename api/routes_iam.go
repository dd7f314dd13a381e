package api

import (
	"context"

	"github.com/ebs-dev/ebs/iam"
	"github.com/ebs-dev/ebs/internal/awserr"
	"github.com/ebs-dev/ebs/internal/awstime"
	"github.com/ebs-dev/ebs/kmsclient"
)

// The IAM access-key operations, over the unix socket only and for root
// only: an access key is a credential for the AWS endpoint.

type accessKeyOut struct {
	UserName        string         `json:"UserName"`
	AccessKeyID     string         `json:"AccessKeyId"`
	SecretAccessKey string         `json:"SecretAccessKey,omitempty"`
	Status          string         `json:"Status"`
	CreateDate      *awstime.Epoch `json:"CreateDate"`
}

func newAccessKeyOut(k iam.AccessKey) accessKeyOut {
	return accessKeyOut{UserName: k.UserName, AccessKeyID: k.AccessKeyID, SecretAccessKey: k.SecretAccessKey,
		Status: k.Status, CreateDate: awstime.New(k.CreateDate)}
}

type userNameInput struct {
	UserName string `json:"UserName"`
}

type accessKeyInput struct {
	UserName    string `json:"UserName"`
	AccessKeyID string `json:"AccessKeyId"`
	Status      string `json:"Status"`
}

type createAccessKeyOutput struct {
	AccessKey accessKeyOut `json:"AccessKey"`
}

type listAccessKeysOutput struct {
	AccessKeyMetadata []accessKeyOut `json:"AccessKeyMetadata"`
	IsTruncated       bool           `json:"IsTruncated"`
}

type emptyOutput struct{}

func (s *Server) registerIAM() {
	if s.cfg.IAM == nil {
		return
	}
	keys := s.cfg.IAM
	s.routes["iam/CreateAccessKey"] = op(rootOnly("CreateAccessKey", func(_ context.Context, in *userNameInput) (*createAccessKeyOutput, error) {
		k, err := keys.CreateAccessKey(in.UserName)
		if err != nil {
			return nil, err
		}
		return &createAccessKeyOutput{AccessKey: newAccessKeyOut(k)}, nil
	}))
	s.routes["iam/ListAccessKeys"] = op(rootOnly("ListAccessKeys", func(_ context.Context, in *userNameInput) (*listAccessKeysOutput, error) {
		list, err := keys.ListAccessKeys(in.UserName)
		if err != nil {
			return nil, err
		}
		out := &listAccessKeysOutput{AccessKeyMetadata: []accessKeyOut{}}
		for _, k := range list {
			out.AccessKeyMetadata = append(out.AccessKeyMetadata, newAccessKeyOut(k))
		}
		return out, nil
	}))
	s.routes["iam/DeleteAccessKey"] = op(rootOnly("DeleteAccessKey", func(_ context.Context, in *accessKeyInput) (*emptyOutput, error) {
		return &emptyOutput{}, keys.DeleteAccessKey(in.UserName, in.AccessKeyID)
	}))
	s.routes["iam/UpdateAccessKey"] = op(rootOnly("UpdateAccessKey", func(_ context.Context, in *accessKeyInput) (*emptyOutput, error) {
		return &emptyOutput{}, keys.UpdateAccessKey(in.UserName, in.AccessKeyID, in.Status)
	}))
}

// rootOnly refuses f to any caller but the account's root.
func rootOnly[In, Out any](action string, f func(context.Context, *In) (*Out, error)) func(context.Context, *In) (*Out, error) {
	return func(ctx context.Context, in *In) (*Out, error) {
		if c, _ := kmsclient.CallerFrom(ctx); c.Type != "Root" {
			return nil, awserr.New(iam.ErrAccessDenied, "User: %s is not authorized to perform: iam:%s (only root manages access keys)", c.ARN, action)
		}
		return f(ctx, in)
	}
}

// noKeys is the key store of a server without IAM: it knows no key.
type noKeys struct{}

func (noKeys) Lookup(string) (iam.Credential, bool) { return iam.Credential{}, false }

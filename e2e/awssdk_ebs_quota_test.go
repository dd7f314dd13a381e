package e2e

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ebs"
	"github.com/aws/aws-sdk-go-v2/service/ebs/types"
)

// TestEBSDirectPendingQuota: an account has at most 100 pending uploads
// (AWS's "Pending snapshots per account"); the unmodified SDK reads the
// 101st StartSnapshot's refusal as its typed ConcurrentLimitExceededException,
// and completing an upload makes room for another.
func TestEBSDirectPendingQuota(t *testing.T) {
	_, ep := startEBSDirect(t)
	ctx := t.Context()
	c := ep.ebsClient(ep.newAccessKey("alice"))
	var first string
	for i := range 100 {
		out, err := c.StartSnapshot(ctx, &ebs.StartSnapshotInput{VolumeSize: aws.Int64(16384)})
		if err != nil {
			t.Fatalf("upload %d of 100: %v", i+1, err)
		}
		if i == 0 {
			first = aws.ToString(out.SnapshotId)
		}
	}
	_, err := c.StartSnapshot(ctx, &ebs.StartSnapshotInput{VolumeSize: aws.Int64(1)})
	if ce := wantTyped[*types.ConcurrentLimitExceededException](t, err); !strings.Contains(aws.ToString(ce.Message), "100 pending") {
		t.Errorf("ConcurrentLimitExceededException: %q", aws.ToString(ce.Message))
	}
	if _, err := c.CompleteSnapshot(ctx, &ebs.CompleteSnapshotInput{SnapshotId: aws.String(first), ChangedBlocksCount: aws.Int32(0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.StartSnapshot(ctx, &ebs.StartSnapshotInput{VolumeSize: aws.Int64(1)}); err != nil {
		t.Fatalf("StartSnapshot after a completion freed a place: %v", err)
	}
}

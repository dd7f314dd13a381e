package snapshot

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ebs-dev/ebs/blockdev/store"
	"github.com/ebs-dev/ebs/internal/awserr"
	"github.com/ebs-dev/ebs/internal/awstime"
)

// The EBS direct APIs address snapshots in 512 KiB blocks.
const (
	directBlockSize = 512 << 10
	blocksPerDirect = directBlockSize / store.BlockSize
	tokenLifetime   = 7 * 24 * time.Hour
)

// tokenKey signs block tokens; it lives only in memory, so tokens do not
// survive a restart (they expire anyway).
var tokenKey = func() []byte { k := make([]byte, 32); rand.Read(k); return k }()

// blockToken is an opaque, signed name for one 512 KiB block of a snapshot.
func blockToken(snapshotID string, index int64, expiry time.Time) string {
	msg := fmt.Sprintf("%s:%d:%d", snapshotID, index, expiry.Unix())
	mac := hmac.New(sha256.New, tokenKey)
	mac.Write([]byte(msg))
	return base64.RawURLEncoding.EncodeToString(append([]byte(msg+":"), mac.Sum(nil)[:16]...))
}

// CheckBlockToken verifies a token for (snapshot, index) at time now.
func CheckBlockToken(token, snapshotID string, index int64, now time.Time) error {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err == nil && len(raw) > 17 {
		msg, sum := raw[:len(raw)-17], raw[len(raw)-16:]
		mac := hmac.New(sha256.New, tokenKey)
		mac.Write(msg)
		parts := strings.Split(string(msg), ":")
		if hmac.Equal(sum, mac.Sum(nil)[:16]) && len(parts) == 3 && parts[0] == snapshotID && parts[1] == strconv.FormatInt(index, 10) {
			if exp, _ := strconv.ParseInt(parts[2], 10, 64); now.Unix() <= exp {
				return nil
			}
			return awserr.New(ErrInvalidBlockToken, "The block token has expired.")
		}
	}
	return awserr.New(ErrInvalidBlockToken, "The block token is not valid for block %d of %s.", index, snapshotID)
}

// view opens the blocks of a completed snapshot, with the EBS direct APIs'
// errors.
func (s *Service) view(id string) (*record, *store.View, error) {
	r, err := s.get(id)
	if errors.Is(err, ErrSnapshotNotFound) {
		return nil, nil, awserr.New(ErrSnapshotMissing, "The snapshot '%s' does not exist.", id)
	}
	if err != nil {
		return nil, nil, err
	}
	if r.State != stateCompleted {
		return nil, nil, awserr.New(ErrValidation, "Snapshot '%s' is in the '%s' state.", r.ID, r.State)
	}
	v, err := s.views.get(s.cfg.Store, r.ID, r.Source)
	return r, v, err
}

// ListSnapshotBlocks lists the 512 KiB blocks of a snapshot that hold data.
func (s *Service) ListSnapshotBlocks(ctx context.Context, in *ListSnapshotBlocksInput) (*ListSnapshotBlocksOutput, error) {
	start, max, err := paging(in.NextToken, in.StartingBlockIndex, in.MaxResults)
	if err != nil {
		return nil, err
	}
	r, v, err := s.view(in.SnapshotID)
	if err != nil {
		return nil, err
	}
	var idx []int64
	v.Mapped(func(lba uint64) {
		if i := int64(lba / blocksPerDirect); i >= start && (len(idx) == 0 || idx[len(idx)-1] != i) {
			idx = append(idx, i)
		}
	})
	exp := s.cfg.Clock.Now().Add(tokenLifetime)
	out := &ListSnapshotBlocksOutput{Blocks: []Block{}, ExpiryTime: awstime.New(exp), VolumeSize: r.Source.SizeGiB, BlockSize: directBlockSize}
	for _, i := range idx {
		if len(out.Blocks) == max {
			out.NextToken = strconv.FormatInt(i, 10)
			break
		}
		out.Blocks = append(out.Blocks, Block{BlockIndex: i, BlockToken: blockToken(r.ID, i, exp)})
	}
	return out, nil
}

// ListChangedBlocks lists the 512 KiB blocks that differ between two
// snapshots (or, without a first, every block of the second). For two
// snapshots of one lineage it reads the change index of the generations
// between them; otherwise it compares their views.
func (s *Service) ListChangedBlocks(ctx context.Context, in *ListChangedBlocksInput) (*ListChangedBlocksOutput, error) {
	start, max, err := paging(in.NextToken, in.StartingBlockIndex, in.MaxResults)
	if err != nil {
		return nil, err
	}
	second, sv, err := s.view(in.SecondSnapshotID)
	if err != nil {
		return nil, err
	}
	var first *record
	var fv *store.View
	if in.FirstSnapshotID != "" {
		if first, fv, err = s.view(in.FirstSnapshotID); err != nil {
			return nil, err
		}
	}
	if first != nil {
		ok, err := s.related(first, second)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, awserr.New(ErrUnrelatedSnapshots, "UNRELATED_SNAPSHOTS: %s and %s do not share a data key and a volume lineage.", first.ID, second.ID)
		}
	}
	changed, err := s.changed(first, fv, second, sv)
	if err != nil {
		return nil, err
	}
	exp := s.cfg.Clock.Now().Add(tokenLifetime)
	out := &ListChangedBlocksOutput{ChangedBlocks: []ChangedBlock{}, ExpiryTime: awstime.New(exp), VolumeSize: second.Source.SizeGiB, BlockSize: directBlockSize}
	for _, i := range changed {
		if i < start {
			continue
		}
		if len(out.ChangedBlocks) == max {
			out.NextToken = strconv.FormatInt(i, 10)
			break
		}
		cb := ChangedBlock{BlockIndex: i}
		if fv != nil && hasData(fv, i) {
			cb.FirstBlockToken = blockToken(first.ID, i, exp)
		}
		if hasData(sv, i) {
			cb.SecondBlockToken = blockToken(second.ID, i, exp)
		}
		out.ChangedBlocks = append(out.ChangedBlocks, cb)
	}
	return out, nil
}

func (s *Service) changed(first *record, fv *store.View, second *record, sv *store.View) ([]int64, error) {
	set := map[int64]bool{}
	switch {
	case first == nil:
		sv.Mapped(func(lba uint64) { set[int64(lba/blocksPerDirect)] = true })
	case first.Source.Lineage == second.Source.Lineage && first.Source.Gen <= second.Source.Gen:
		err := s.cfg.Store.Changed(second.Source.Lineage, first.Source.Gen, second.Source.Gen, func(lba uint64) {
			set[int64(lba/blocksPerDirect)] = true
		})
		if err != nil {
			return nil, err
		}
	default:
		diff := func(lba uint64) { // the two may differ in size (a restore or an upload grows)
			if slotAt(fv, lba) != slotAt(sv, lba) {
				set[int64(lba/blocksPerDirect)] = true
			}
		}
		fv.Mapped(diff)
		sv.Mapped(diff)
	}
	out := make([]int64, 0, len(set))
	for i := range set {
		out = append(out, i)
	}
	slices.Sort(out)
	return out, nil
}

// related reports whether two snapshots can be compared, as AWS asks: they
// share a data key and come from one volume lineage.
func (s *Service) related(a, b *record) (bool, error) {
	if a.Source.DataKeyID != b.Source.DataKeyID {
		return false, nil
	}
	if a.Source.Encrypted {
		return true, nil // one data key: one lineage of volumes and snapshots
	}
	return s.cfg.Store.Related(a.Source.Lineage, b.Source.Lineage)
}

func slotAt(v *store.View, lba uint64) uint64 {
	if lba >= v.Blocks() {
		return 0
	}
	return v.Slot(lba)
}

func hasData(v *store.View, index int64) bool {
	for lba := uint64(index) * blocksPerDirect; lba < uint64(index+1)*blocksPerDirect && lba < v.Blocks(); lba++ {
		if v.Slot(lba) != 0 {
			return true
		}
	}
	return false
}

// paging reads NextToken (the next block index) or StartingBlockIndex, and
// MaxResults (100-10000, default 10000).
func paging(next string, startIndex int64, maxResults int) (int64, int, error) {
	if maxResults == 0 {
		maxResults = 10000
	}
	if maxResults < 100 || maxResults > 10000 {
		return 0, 0, awserr.New(ErrInvalidParameterValue, "MaxResults must be between 100 and 10000.")
	}
	start := startIndex
	if next != "" {
		n, err := strconv.ParseInt(next, 10, 64)
		if err != nil || n < 0 {
			return 0, 0, awserr.New(ErrInvalidPageToken, "The NextToken is not valid.")
		}
		start = n
	}
	return start, maxResults, nil
}

package snapshot

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/ebs-dev/ebs/blockdev"
	"github.com/ebs-dev/ebs/blockdev/store"
	"github.com/ebs-dev/ebs/internal/awserr"
	"github.com/ebs-dev/ebs/internal/awstime"
	"github.com/ebs-dev/ebs/internal/clock"
	"github.com/ebs-dev/ebs/internal/groupcommit"
	"github.com/ebs-dev/ebs/internal/kv"
	"github.com/ebs-dev/ebs/kmsclient"
)

// Config configures a Service.
type Config struct {
	DB      *kv.DB
	Store   *store.Store
	Volumes *blockdev.Manager
	Account string
	Clock   clock.Clock
	Logger  *slog.Logger
}

// Service is the snapshot catalogue and the background copies.
type Service struct {
	cfg     Config
	mu      sync.Mutex // serialises catalogue changes (see doc.go for the lock order)
	tasksMu sync.Mutex // serialises the starts and clean-ups of encrypt-volume tasks
	run     runner     // background copies and encrypt-volume tasks

	up       uploads           // EBS direct uploads being written
	keys     keyCache          // data keys of snapshots read or written block by block
	views    viewCache         // block maps of completed snapshots read block by block
	blocksMu sync.RWMutex      // held shared by block reads, exclusively while a snapshot's blocks are freed
	dbSync   groupcommit.Group // shares the metadata syncs of block puts
}

// New returns a Service; Start resumes the work a restart interrupted.
func New(cfg Config) *Service {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Service{cfg: cfg}
	s.run.init()
	s.up.m, s.up.ended = map[string]*upload{}, map[string]bool{}
	s.keys.m = map[string]*cachedKey{}
	return s
}

// Snapshot states.
const (
	statePending   = "pending"
	stateCompleted = "completed"
	stateError     = "error"
)

// record is a snapshot in the catalogue.
type record struct {
	ID           string              `json:"id"`
	Description  string              `json:"description"`
	Start        time.Time           `json:"start"`
	State        string              `json:"state"`
	StateMessage string              `json:"stateMessage,omitempty"`
	Source       blockdev.SourceInfo `json:"source"`
	Copy         *copySpec           `json:"copy,omitempty"` // set while a copy is pending
	// FullSnapshotSizeInBytes, once known: set when a copy completes, else
	// counted from the block map at the first DescribeSnapshots (and for
	// records made before it existed).
	Full *int64 `json:"fullBytes,omitempty"`
	// Made with the EBS direct APIs (StartSnapshot):
	Upload      *uploadSpec `json:"upload,omitempty"` // set while the upload is pending
	Parent      string      `json:"parent,omitempty"` // ParentSnapshotId
	Tags        []Tag       `json:"tags,omitempty"`
	ClientToken string      `json:"clientToken,omitempty"`
	Request     string      `json:"request,omitempty"` // digest of the StartSnapshot parameters
}

const prefixSnapshot = "s/"

func newID(prefix string) string {
	b := make([]byte, 9)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)[:17]
}

func notFound(id string) error {
	return awserr.New(ErrSnapshotNotFound, "The snapshot '%s' does not exist.", id)
}

func (s *Service) load(tx *kv.Txn, id string) (*record, error) {
	raw, err := tx.Get([]byte(prefixSnapshot + id))
	if errors.Is(err, kv.ErrNotFound) {
		return nil, notFound(id)
	}
	if err != nil {
		return nil, err
	}
	r := new(record)
	return r, json.Unmarshal(raw, r)
}

func (s *Service) get(id string) (*record, error) {
	var r *record
	err := s.cfg.DB.View(func(tx *kv.Txn) error {
		var err error
		r, err = s.load(tx, id)
		return err
	})
	return r, err
}

func save(tx *kv.Txn, r *record) error {
	raw, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return tx.Set([]byte(prefixSnapshot+r.ID), raw)
}

// put saves a record durably.
func (s *Service) put(r *record) error {
	if err := s.cfg.DB.Update(func(tx *kv.Txn) error { return save(tx, r) }); err != nil {
		return err
	}
	return s.cfg.DB.Sync()
}

func (s *Service) all() ([]*record, error) {
	var out []*record
	err := s.cfg.DB.View(func(tx *kv.Txn) error {
		return tx.Scan([]byte(prefixSnapshot), nil, func(_, v []byte) error {
			r := new(record)
			if err := json.Unmarshal(v, r); err != nil {
				return err
			}
			out = append(out, r)
			return nil
		})
	})
	return out, err
}

// CreateSnapshot takes a point-in-time, crash-consistent snapshot of a
// volume, attached and written to or not, in O(1): it pins the volume's
// current view and moves the volume to a new generation. It stores nothing
// until the volume overwrites a block.
func (s *Service) CreateSnapshot(ctx context.Context, in *CreateSnapshotInput) (*Snapshot, error) {
	if in.VolumeID == "" {
		return nil, awserr.New(blockdev.ErrMissingParameter, "The request must contain the parameter VolumeId.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &record{ID: newID("snap-"), Description: in.Description, Start: s.cfg.Clock.Now(), State: stateCompleted}
	err := s.cfg.Volumes.Snapshot(ctx, in.VolumeID, func(tx *kv.Txn, src blockdev.SourceInfo) error {
		r.Source = src
		if err := s.cfg.Store.PinInTx(tx, src.Lineage, src.Gen, r.ID); err != nil {
			return err
		}
		return save(tx, r)
	})
	if err != nil {
		return nil, err
	}
	// As AWS's CreateSnapshot, the answer has no sizes: counting them reads
	// the block map, which would make create cost O(blocks written).
	return s.summary(r), nil
}

// DescribeSnapshots lists snapshots: all, the ones named, or those of the
// volumes named by a volume-id filter.
func (s *Service) DescribeSnapshots(ctx context.Context, in *DescribeSnapshotsInput) (*DescribeSnapshotsOutput, error) {
	if err := s.expireDue(); err != nil {
		return nil, err
	}
	var recs []*record
	if len(in.SnapshotIDs) > 0 {
		for _, id := range in.SnapshotIDs {
			r, err := s.get(id)
			if err != nil {
				return nil, err
			}
			recs = append(recs, r)
		}
	} else {
		var err error
		if recs, err = s.all(); err != nil {
			return nil, err
		}
	}
	out := &DescribeSnapshotsOutput{Snapshots: []Snapshot{}}
	for _, r := range recs {
		ok, err := matches(r, in.Filters)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		info, err := s.info(r)
		if err != nil {
			return nil, err
		}
		out.Snapshots = append(out.Snapshots, *info)
	}
	return out, nil
}

func matches(r *record, filters []Filter) (bool, error) {
	for _, f := range filters {
		var v string
		switch f.Name {
		case "volume-id":
			v = r.Source.VolumeID
		case "status":
			v = r.State
		case "snapshot-id":
			v = r.ID
		case "encrypted":
			v = fmt.Sprint(r.Source.Encrypted)
		default:
			return false, awserr.New(blockdev.ErrInvalidParameterValue, "The filter '%s' is invalid: use volume-id, snapshot-id, status or encrypted.", f.Name)
		}
		if !slices.Contains(f.Values, v) {
			return false, nil
		}
	}
	return true, nil
}

// info is a snapshot's description with its sizes: the full size from its
// record (counted once, see fullSize), the unique size from the store's
// change index of the generations only it covers (it changes as the volume
// overwrites blocks and other snapshots go). Neither loads the block map
// once the full size is recorded. s.mu must not be held.
func (s *Service) info(r *record) (*Snapshot, error) {
	out := s.summary(r)
	if r.State != stateCompleted {
		return out, nil
	}
	full, err := s.fullSize(r)
	if err != nil {
		return nil, err
	}
	out.FullSnapshotSizeInBytes = full
	u, err := s.cfg.Store.UniqueBytes(r.Source.Lineage, r.Source.Gen)
	if err != nil {
		return nil, fmt.Errorf("unique size of %s: %w", r.ID, err)
	}
	out.UniqueSizeInBytes = &u
	return out, nil
}

// summary is a snapshot's description without its sizes.
func (s *Service) summary(r *record) *Snapshot {
	src := r.Source
	out := &Snapshot{
		SnapshotID: r.ID, VolumeID: src.VolumeID, VolumeSize: src.SizeGiB, State: r.State, StateMessage: r.StateMessage,
		Progress: "100%", StartTime: awstime.New(r.Start), Description: r.Description, Encrypted: src.Encrypted,
		KmsKeyID: src.KmsKeyArn, DataEncryptionKeyID: src.DataKeyID, OwnerID: s.cfg.Account, Tags: r.Tags,
	}
	if r.State == statePending && r.Upload != nil {
		out.Progress = fmt.Sprintf("%d%%", s.up.progress(r.ID))
		return out
	}
	if r.State == statePending {
		out.Progress = fmt.Sprintf("%d%%", s.run.progress(r.ID))
	}
	return out
}

// DeleteSnapshot deletes a snapshot and frees the blocks that no other
// snapshot or volume needs; every other snapshot and volume reads the same
// data afterwards. Deleting a pending copy cancels it. The source of a copy
// in progress can be deleted, as on AWS: the copy holds its own pin on the
// source's view and completes from it.
func (s *Service) DeleteSnapshot(ctx context.Context, in *SnapshotIDInput) (*struct{}, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.get(in.SnapshotID)
	if err != nil {
		return nil, err
	}
	if r.Upload != nil {
		return &struct{}{}, s.deleteUpload(r)
	}
	if done := s.run.cancel(r.ID); done != nil { // a copy: let it wind down, then delete what it left
		s.mu.Unlock()
		<-done
		s.mu.Lock()
		if r, err = s.get(in.SnapshotID); err != nil {
			return nil, err
		}
	}
	if err := s.drop(r); err != nil {
		return nil, err
	}
	s.collect("snapshot " + r.ID + " deleted")
	return &struct{}{}, nil
}

// drop deletes a snapshot's record and, in the same transaction, the pins
// it holds: its view, and while it is a pending copy, its source's view and
// the lineage it was filling. s.mu is held.
func (s *Service) drop(r *record) error {
	s.blocksMu.Lock() // no block read of this snapshot is in flight, none starts
	defer s.blocksMu.Unlock()
	s.views.drop(r.ID)
	s.keys.drop(r.ID)
	err := s.cfg.DB.Update(func(tx *kv.Txn) error {
		if err := tx.Delete([]byte(prefixSnapshot + r.ID)); err != nil {
			return err
		}
		if r.State == stateCompleted || r.Source.Lineage != 0 {
			if err := s.cfg.Store.UnpinInTx(tx, r.Source.Lineage, r.Source.Gen, r.ID); err != nil {
				return err
			}
		}
		return s.unpinCopy(tx, r)
	})
	if err == nil {
		err = s.cfg.DB.Sync()
	}
	if err != nil {
		return fmt.Errorf("delete snapshot %s: %w", r.ID, err)
	}
	return nil
}

// collect frees the blocks of the pins just dropped. s.mu is held: no
// snapshot of the lineages it walks is taken meanwhile (store.Collect must
// not run beside a Freeze of the lineage it frees). A failure does not undo
// what was committed: it is logged, and the next Collect (the next delete,
// or the next start) frees them.
func (s *Service) collect(what string) {
	if err := s.cfg.Store.Collect(); err != nil {
		s.cfg.Logger.Error("free blocks", "after", what, "err", err)
	}
}

// CreateVolume makes a volume from a completed snapshot (see
// blockdev.Manager.StartRestore for how keys and blocks are shared). The
// catalogue is locked only until the new volume holds the snapshot's view;
// the blocks are copied (when the volume has a new data key) without it.
func (s *Service) CreateVolume(ctx context.Context, in *blockdev.CreateVolumeInput) (*blockdev.VolumeInfo, error) {
	rs, err := s.startRestore(ctx, in)
	if err != nil {
		return nil, err
	}
	return s.cfg.Volumes.FinishRestore(ctx, rs, nil)
}

func (s *Service) startRestore(ctx context.Context, in *blockdev.CreateVolumeInput) (*blockdev.Restore, error) {
	s.mu.Lock() // the snapshot must not be deleted before the new volume holds its view
	defer s.mu.Unlock()
	r, err := s.get(in.SnapshotID)
	if err != nil {
		return nil, err
	}
	if r.State != stateCompleted {
		return nil, awserr.New(blockdev.ErrIncorrectState, "Snapshot '%s' is in the '%s' state.", r.ID, r.State)
	}
	return s.cfg.Volumes.StartRestore(ctx, in, r.ID, r.Source)
}

// KeyUsers lists the volumes and snapshots whose data key is wrapped under
// keyArn: what a deletion of that key would make unreadable.
func (s *Service) KeyUsers(ctx context.Context, keyArn string) ([]string, error) {
	users, err := s.cfg.Volumes.VolumesUsingKey(keyArn)
	if err != nil {
		return nil, err
	}
	recs, err := s.all()
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		if r.Source.KmsKeyArn == keyArn {
			users = append(users, r.ID)
		}
	}
	return users, nil
}

// caller is who started background work, kept to act as them later.
type caller struct {
	ARN, AccountID, PrincipalID, Type, UserName string
}

func callerOf(ctx context.Context) caller {
	c, _ := kmsclient.CallerFrom(ctx)
	return caller{ARN: c.ARN, AccountID: c.AccountID, PrincipalID: c.PrincipalID, Type: c.Type, UserName: c.UserName}
}

func (c caller) context(ctx context.Context) context.Context {
	return kmsclient.WithCaller(ctx, kmsclient.Caller{ARN: c.ARN, AccountID: c.AccountID, PrincipalID: c.PrincipalID,
		Type: c.Type, UserName: c.UserName, SourceIP: "ebs-daemon", UserAgent: "ebs-daemon (background copy)"})
}

package snapshot

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ebs-dev/ebs/blockdev/store"
	"github.com/ebs-dev/ebs/internal/kv"
)

const headGen = store.HeadGen

// uploads are the pending EBS direct uploads whose lineage is open.
type uploads struct {
	mu    sync.Mutex
	m     map[string]*upload
	ended map[string]bool // completed, deleted or timed out: never opened again
}

// upload is an open pending upload. Puts hold mu shared (each on its own
// block), CompleteSnapshot, DeleteSnapshot and the timeout exclusively.
type upload struct {
	mu   sync.RWMutex
	lin  *store.Lineage
	done bool // sealed, deleted or timed out: lin is closed

	stateMu  sync.Mutex
	last     time.Time      // start or last put: the timeout runs from it
	progress int64          // the last x-amz-Progress
	busy     map[int64]bool // blocks being put
}

func (u *upload) claim(index int64) bool {
	u.stateMu.Lock()
	defer u.stateMu.Unlock()
	if u.busy[index] {
		return false
	}
	u.busy[index] = true
	return true
}

func (u *upload) unclaim(index int64) {
	u.stateMu.Lock()
	defer u.stateMu.Unlock()
	delete(u.busy, index)
}

func (u *upload) touch(at time.Time, progress *int64) {
	u.stateMu.Lock()
	defer u.stateMu.Unlock()
	if at.After(u.last) {
		u.last = at
	}
	if progress != nil {
		u.progress = *progress
	}
}

func (u *upload) lastActivity() time.Time {
	u.stateMu.Lock()
	defer u.stateMu.Unlock()
	return u.last
}

func (up *uploads) progress(id string) int64 {
	up.mu.Lock()
	u := up.m[id]
	up.mu.Unlock()
	if u == nil {
		return 0
	}
	u.stateMu.Lock()
	defer u.stateMu.Unlock()
	return u.progress
}

// openUpload opens a pending upload's lineage on first use (after a
// restart too), with its last activity read from its checksums.
func (s *Service) openUpload(r *record) (*upload, error) {
	s.up.mu.Lock()
	defer s.up.mu.Unlock()
	if u := s.up.m[r.ID]; u != nil {
		return u, nil
	}
	if s.up.ended[r.ID] { // a call that read the record before the upload ended
		return nil, errEnded
	}
	_, _, last, err := s.uploadSums(r.ID)
	if err != nil {
		return nil, err
	}
	lin, err := s.cfg.Store.OpenLineage(r.Source.Lineage, 1, uint64(r.Source.SizeGiB)<<30/store.BlockSize)
	if err != nil {
		return nil, fmt.Errorf("open upload %s: %w", r.ID, err)
	}
	u := &upload{lin: lin, last: last, busy: map[int64]bool{}}
	s.up.m[r.ID] = u
	return u, nil
}

// deleteUpload deletes a pending upload and frees its blocks; s.mu is held.
func (s *Service) deleteUpload(r *record) error {
	u, err := s.openUpload(r)
	if err != nil {
		return err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.done {
		return s.notPending(r.ID)
	}
	s.forget(r.ID, u)
	s.keys.drop(r.ID)
	err = s.cfg.DB.Update(func(tx *kv.Txn) error {
		if err := s.unpinUpload(tx, r.ID, r.Source.Lineage); err != nil {
			return err
		}
		return tx.Delete([]byte(prefixSnapshot + r.ID))
	})
	if err == nil {
		err = s.cfg.DB.Sync()
	}
	if err != nil {
		return err
	}
	return s.released(r.ID)
}

// errEnded is what a call finds that raced with the end of its upload.
var errEnded = errors.New("the upload has ended")

func (s *Service) openedUpload(id string) *upload {
	s.up.mu.Lock()
	defer s.up.mu.Unlock()
	return s.up.m[id]
}

// expireLocked ends a pending upload whose timeout has passed: it goes to
// the error state and its blocks are freed. s.mu is held.
func (s *Service) expireLocked(id string) error {
	r, err := s.get(id)
	if err != nil || r.Upload == nil || r.State != statePending {
		return nil // gone or ended meanwhile
	}
	u, err := s.openUpload(r)
	if err != nil {
		return err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.done || !s.cfg.Clock.Now().After(r.deadline(u.lastActivity())) {
		return nil // ended, or a put came in, meanwhile
	}
	s.forget(id, u)
	s.keys.drop(id)
	lin := r.Source.Lineage
	r.State, r.Upload, r.Source.Lineage = stateError, nil, 0
	r.StateMessage = fmt.Sprintf("The snapshot was not completed within its timeout of %d minutes.", r.timeoutOr())
	err = s.cfg.DB.Update(func(tx *kv.Txn) error {
		if err := s.unpinUpload(tx, id, lin); err != nil {
			return err
		}
		return save(tx, r)
	})
	if err == nil {
		err = s.cfg.DB.Sync()
	}
	if err != nil {
		return err
	}
	s.cfg.Logger.Info("snapshot upload timed out", "snapshot", id)
	return s.released(id)
}

func (r *record) timeoutOr() int64 {
	if r.Upload != nil {
		return r.Upload.TimeoutMinutes
	}
	return defaultTimeoutMinutes
}

// expireDue ends every pending upload past its timeout.
func (s *Service) expireDue() error {
	recs, err := s.all()
	if err != nil {
		return err
	}
	now := s.cfg.Clock.Now()
	for _, r := range recs {
		due, err := s.uploadDue(r, now)
		if err != nil {
			return err
		}
		if !due {
			continue
		}
		s.mu.Lock()
		err = s.expireLocked(r.ID)
		s.mu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

// uploadDue says whether r is a pending upload past its timeout at now,
// without opening it.
func (s *Service) uploadDue(r *record, now time.Time) (bool, error) {
	if r.Upload == nil || r.State != statePending {
		return false, nil
	}
	last := time.Time{}
	if u := s.openedUpload(r.ID); u != nil {
		last = u.lastActivity()
	} else {
		var err error
		if _, _, last, err = s.uploadSums(r.ID); err != nil {
			return false, err
		}
	}
	return now.After(r.deadline(last)), nil
}

// sweepInterval is how often pending uploads are checked for their timeout
// and idle data keys dropped (measured in real time; the timeouts
// themselves follow the daemon's clock, and every call on an upload checks
// its own).
const sweepInterval = 30 * time.Second

func (s *Service) startSweeper() {
	s.run.wg.Add(1)
	go func() {
		defer s.run.wg.Done()
		t := time.NewTicker(sweepInterval)
		defer t.Stop()
		for {
			select {
			case <-s.run.ctx.Done():
				return
			case <-t.C:
				if err := s.expireDue(); err != nil {
					s.cfg.Logger.Error("snapshot upload timeouts", "err", err)
				}
				s.keys.evictIdle(s.cfg.Clock.Now())
			}
		}
	}()
}

// closeUploads closes the open upload lineages (they stay pending: a
// restart resumes them). It empties the table first and closes each upload
// under its own lock alone, never under the table's (lock order, doc.go);
// an upload that a concurrent end closed meanwhile is left alone.
func (s *Service) closeUploads() error {
	s.up.mu.Lock()
	open := make([]*upload, 0, len(s.up.m))
	for id, u := range s.up.m {
		open = append(open, u)
		delete(s.up.m, id)
	}
	s.up.mu.Unlock()
	var errs []error
	for _, u := range open {
		u.mu.Lock()
		if !u.done {
			u.done = true
			errs = append(errs, u.lin.Close())
		}
		u.mu.Unlock()
	}
	s.keys.drop("")
	return errors.Join(errs...)
}

// dropStaleSums deletes checksums left by uploads that ended in a crash
// between their end and the checksums' deletion.
func (s *Service) dropStaleSums() error {
	ids := map[string]bool{}
	err := s.cfg.DB.View(func(tx *kv.Txn) error {
		return tx.Scan([]byte(prefixUpload), nil, func(k, _ []byte) error {
			if id, _, ok := strings.Cut(strings.TrimPrefix(string(k), prefixUpload), "/"); ok {
				ids[id] = true
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	for id := range ids {
		r, err := s.get(id)
		if err == nil && r.Upload != nil {
			continue
		}
		if err := s.dropSums(id); err != nil {
			return err
		}
	}
	return nil
}

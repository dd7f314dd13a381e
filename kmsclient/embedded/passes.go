package embedded

import (
	"errors"

	"github.com/ebs-dev/ebs/internal/kv"
)

// maxReadPasses bounds how often a call that changes nothing runs again
// because a key it used changed meanwhile; then it takes the write path.
const maxReadPasses = 3

// independentOps only create a record under a fresh random id: no other
// call can conflict with them, so they need not take the write lock.
var independentOps = map[string]bool{"CreateKey": true}

// errDiscard rolls back a pass whose writes must not be committed.
var errDiscard = errors.New("kms: discard the pass")

// readPass runs a call that changes nothing on a snapshot of the store,
// without the write lock, so that evaluating policies and grants (or
// anything else) never holds up another call. The result stands if no
// committed change has touched a key the call used since the snapshot: the
// call then took effect at its snapshot, and a change published before it
// returns is never ignored. Otherwise it runs again, on a new snapshot.
//
// done is false if the call turned out to need a change (a due rotation or
// deletion, or the AWS managed key's creation), or kept meeting changes: the
// write path must run it.
func readPass[Out any](s *KMS, newCall func() *call, fn func(*call) (*Out, error)) (c *call, out *Out, err error, done bool) {
	for range maxReadPasses {
		c = newCall()
		c.since = s.revs.current()
		_ = s.db.View(func(tx *kv.Txn) error {
			c.tx = tx
			out, err = fn(c)
			return nil
		})
		c.tx = nil
		if c.changed() {
			return c, nil, nil, false
		}
		if s.revs.unchanged(c.since, c.resources) {
			return c, out, err, true
		}
	}
	return c, nil, nil, false
}

// writePass runs a call that may change the store. A first pass, without
// the lock, runs it on a snapshot in a transaction that is thrown away: it
// evaluates the policies and grants. The second, under the write lock, runs
// the call for real in one transaction, which commits the change with its
// audit records in the outbox; it reuses the first pass's decisions for
// every key no change has touched since (authorizeOnce). It returns the
// outbox delivery of a committed change.
func writePass[Out any](s *KMS, newCall func() *call, fn func(*call) (*Out, error)) (c *call, out *Out, d *delivery, err error) {
	c = newCall()
	if independentOps[c.name] {
		out, d, err = commitPass(s, c, fn)
		return c, out, d, err
	}
	first := newCall()
	first.firstPass, first.since = true, s.revs.current()
	_ = s.db.Update(func(tx *kv.Txn) error {
		first.tx = tx
		_, _ = fn(first)
		return errDiscard
	})
	c.earlier = first

	s.mu.Lock()
	defer s.mu.Unlock()
	out, d, err = commitPass(s, c, fn)
	return c, out, d, err
}

// commitPass runs fn in one transaction and commits it, with the call's
// audit records in the outbox if it changed anything, then publishes the
// keys it changed.
func commitPass[Out any](s *KMS, c *call, fn func(*call) (*Out, error)) (out *Out, d *delivery, err error) {
	err = s.db.Update(func(tx *kv.Txn) error {
		c.tx = tx
		var err error
		if out, err = fn(c); err != nil || !c.changed() {
			return err
		}
		d, err = s.outbox.put(tx, s.records(c, out, nil))
		return err
	})
	c.tx = nil
	if err != nil {
		return nil, nil, err
	}
	if c.changed() {
		s.revs.publish(c.changedKeys())
	}
	return out, d, nil
}

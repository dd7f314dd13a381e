// Package groupcommit shares one expensive durable operation (an fdatasync,
// a database sync) among the callers that ask for it at the same time.
//
// The rule, for every user (the block store's Flush, the EBS direct upload
// syncs, the audit trail): a caller returns only after a round that started
// after its call has finished, and it gets that round's error, never the
// error of an earlier or a later round. A failed round is not retried here:
// whether a retry can be trusted (after a failed fdatasync it cannot) is the
// commit function's business.
//
// Locks: Group.mu, never held while the commit function runs.
package groupcommit

import "sync"

// round is one call of the commit function and the callers it covers.
type round struct {
	finished bool
	err      error
}

// Group runs a commit function for concurrent callers: a call that arrives
// while a commit runs waits for the next one, which covers every caller
// waiting then. The zero value is ready to use.
type Group struct {
	mu      sync.Mutex
	cond    sync.Cond
	running bool
	next    *round // the round new callers join; it starts when none runs
}

// Do returns once a call of commit that started after Do was called has
// finished, with that call's error.
func (g *Group) Do(commit func() error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cond.L == nil {
		g.cond.L = &g.mu
	}
	if g.next == nil {
		g.next = &round{}
	}
	r := g.next
	for !r.finished {
		if g.running {
			g.cond.Wait()
			continue
		}
		// r starts now: later callers join a new round.
		g.running, g.next = true, nil
		g.mu.Unlock()
		err := commit()
		g.mu.Lock()
		g.running, r.finished, r.err = false, true, err
		g.cond.Broadcast()
	}
	return r.err
}

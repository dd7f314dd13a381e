// Package groupcommit shares one expensive durable operation (an fdatasync,
// a database sync) among the callers that ask for it at the same time.
package groupcommit

import "sync"

// Group runs a commit function for concurrent callers: a call that arrives
// while a commit runs waits for the next one, which covers every caller
// waiting then. The zero value is ready to use.
type Group struct {
	mu        sync.Mutex
	cond      sync.Cond
	requested uint64
	done      uint64
	running   bool
	err       error // of the last completed round
}

// Do returns once a call of commit that started after Do was called has
// finished, with that call's error.
func (g *Group) Do(commit func() error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cond.L == nil {
		g.cond.L = &g.mu
	}
	g.requested++
	mine := g.requested
	for g.done < mine {
		if g.running {
			g.cond.Wait()
			continue
		}
		g.running = true
		target := g.requested
		g.mu.Unlock()
		err := commit()
		g.mu.Lock()
		g.running, g.done, g.err = false, target, err
		g.cond.Broadcast()
	}
	return g.err
}

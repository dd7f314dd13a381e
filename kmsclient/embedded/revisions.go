package embedded

import "sync"

// revisions tells a call that read the store without the write lock whether
// a key it used has changed since: every committed change publishes the keys
// it touched, after its commit and before it releases the write lock (or, for
// a change no other call can conflict with, right after its commit).
type revisions struct {
	mu      sync.Mutex
	seq     uint64            // changes published so far
	changed map[string]uint64 // key ARN -> seq of the last change that touched it
}

// current returns the number of changes published so far. A call reads it
// before it opens its snapshot: a change published later may or may not be
// in the snapshot, one published earlier is.
func (r *revisions) current() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seq
}

// publish records a committed change to the keys.
func (r *revisions) publish(keyArns []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	if r.changed == nil {
		r.changed = map[string]uint64{}
	}
	for _, arn := range keyArns {
		r.changed[arn] = r.seq
	}
}

// unchanged reports whether no change published after since touched any of
// the keys.
func (r *revisions) unchanged(since uint64, keyArns []string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, arn := range keyArns {
		if r.changed[arn] > since {
			return false
		}
	}
	return true
}

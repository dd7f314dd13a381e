package snapshot

import (
	"context"
	"sync"
)

// runner tracks background work: copies (by destination snapshot id) and
// encrypt-volume tasks ("task:" + volume id), their progress, and their end.
type runner struct {
	mu   sync.Mutex
	jobs map[string]*job
	ctx  context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup
}

type job struct {
	source   string // the source snapshot of a copy
	progress int
	cancel   context.CancelFunc
	done     chan struct{} // closed once fn has returned
}

func (r *runner) init() {
	r.jobs = map[string]*job{}
	r.ctx, r.stop = context.WithCancel(context.Background())
}

// start runs fn in the background as job id, unless a job id is running:
// checking and registering are one step, so that two callers never start
// the same job twice. The job is listed until fn has returned.
func (r *runner) start(id, source string, fn func(ctx context.Context)) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.jobs[id] != nil {
		return false
	}
	ctx, cancel := context.WithCancel(r.ctx)
	j := &job{source: source, cancel: cancel, done: make(chan struct{})}
	r.jobs[id] = j
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer cancel()
		fn(ctx)
		r.mu.Lock()
		delete(r.jobs, id)
		close(j.done)
		r.mu.Unlock()
	}()
	return true
}

// cancel stops job id, if it runs, and returns a channel closed when it
// has ended (nil if no such job).
func (r *runner) cancel(id string) <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	j := r.jobs[id]
	if j == nil {
		return nil
	}
	j.cancel()
	return j.done
}

func (r *runner) running(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.jobs[id] != nil
}

func (r *runner) progress(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if j := r.jobs[id]; j != nil {
		return j.progress
	}
	return 0
}

func (r *runner) setProgress(id string, done, total uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if j := r.jobs[id]; j != nil && total > 0 {
		j.progress = int(done * 99 / total)
	}
}

func (r *runner) copies() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, j := range r.jobs {
		if j.source != "" {
			n++
		}
	}
	return n
}

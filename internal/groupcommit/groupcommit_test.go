package groupcommit

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestCallersShareCommits checks that concurrent callers share rounds:
// fewer commits than calls.
func TestCallersShareCommits(t *testing.T) {
	var g Group
	var commits atomic.Int64
	const callers = 32
	var wg sync.WaitGroup
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := g.Do(func() error {
				commits.Add(1)
				time.Sleep(time.Millisecond)
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if c := commits.Load(); c < 1 || c >= callers {
		t.Errorf("%d commits for %d concurrent callers, want fewer and at least 1", c, callers)
	}
}

// TestRoundStartsAfterCall checks that a call never returns on a round that
// began before it was made: the value committed covers its write.
func TestRoundStartsAfterCall(t *testing.T) {
	var g Group
	var mu sync.Mutex
	written, durable := 0, 0
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mu.Lock()
			written++
			mine := written
			mu.Unlock()
			if err := g.Do(func() error {
				mu.Lock()
				durable = written
				mu.Unlock()
				return nil
			}); err != nil {
				t.Error(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if durable < mine {
				t.Errorf("returned with %d durable, before its write %d", durable, mine)
			}
		}()
	}
	wg.Wait()
}

func TestErrorReachesTheRoundsCallers(t *testing.T) {
	var g Group
	boom := errors.New("boom")
	if err := g.Do(func() error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
	if err := g.Do(func() error { return nil }); err != nil {
		t.Fatalf("a later round: %v", err)
	}
}

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

// TestEachCallerGetsItsRoundsError checks the error rule: the callers a
// failed round covered get its error even when a later round, started by
// callers who came after, succeeds before they wake.
func TestEachCallerGetsItsRoundsError(t *testing.T) {
	boom := errors.New("boom")
	for iter := range 20 {
		var g Group
		release1, release2 := make(chan struct{}), make(chan struct{})
		var rounds atomic.Int64
		commit := func() error {
			switch rounds.Add(1) {
			case 1:
				<-release1
				return nil
			case 2:
				<-release2
				return boom
			}
			return nil
		}
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); _ = g.Do(commit) }() // leads round 1
		for rounds.Load() < 1 {
			time.Sleep(time.Millisecond)
		}
		const n = 32
		second := make(chan error, n)
		for range n { // all call during round 1: round 2 covers them
			wg.Add(1)
			go func() { defer wg.Done(); second <- g.Do(commit) }()
		}
		time.Sleep(20 * time.Millisecond)
		close(release1)
		for rounds.Load() < 2 {
			time.Sleep(time.Millisecond)
		}
		third := make(chan error, n)
		for range n { // all call during round 2: a later round covers them
			wg.Add(1)
			go func() { defer wg.Done(); third <- g.Do(commit) }()
		}
		time.Sleep(20 * time.Millisecond)
		close(release2)
		wg.Wait()
		close(second)
		close(third)
		for err := range second {
			if !errors.Is(err, boom) {
				t.Fatalf("iteration %d: a caller of the failed round got %v", iter, err)
			}
		}
		for err := range third {
			if err != nil {
				t.Fatalf("iteration %d: a caller of a later round got %v", iter, err)
			}
		}
	}
}

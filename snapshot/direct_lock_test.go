package snapshot

import (
	"testing"
	"time"
)

// TestCloseWhileAnUploadEnds: an upload ends (CompleteSnapshot's seal,
// DeleteSnapshot, the timeout) holding the upload's lock and then calls
// forget, which takes the open-uploads table's lock; Close (closeUploads)
// must not hold the table's lock while it waits for the upload's. Before
// the fix it did, and the two deadlocked: this test builds that
// interleaving exactly (the upload's lock held as an ending holds it, Close
// started, then forget) and a watchdog turns the deadlock into a failure.
func TestCloseWhileAnUploadEnds(t *testing.T) {
	s := newStack(t)
	id := s.start(&StartSnapshotInput{VolumeSize: 1}).SnapshotID
	s.put(id, 0, directBlock(1))
	svc := s.snaps
	u := svc.openedUpload(id)
	if u == nil {
		t.Fatal("the upload is not open after a put")
	}
	u.mu.Lock() // as CompleteSnapshot, DeleteSnapshot and the timeout hold it
	closed := make(chan error, 1)
	go func() { closed <- svc.Close() }()
	waitClosing(svc)

	forgot := make(chan struct{})
	go func() {
		svc.forget(id, u) // what the ending does next
		u.mu.Unlock()
		close(forgot)
	}()
	select {
	case <-forgot:
	case <-time.After(30 * time.Second):
		s.snaps = nil // its locks are held forever: the stack cannot be closed
		t.Fatal("forget (under the upload's lock) and Close (holding the table's) deadlocked")
	}
	if err := <-closed; err != nil {
		t.Fatalf("close: %v", err)
	}
	if !u.done || svc.openedUpload(id) != nil {
		t.Fatalf("after forget and Close: done %v, still open %v", u.done, svc.openedUpload(id) != nil)
	}
}

// waitClosing returns once Close has reached the open-uploads table: it
// holds the table's lock, or has emptied the table.
func waitClosing(svc *Service) {
	for {
		if !svc.up.mu.TryLock() {
			return
		}
		empty := len(svc.up.m) == 0
		svc.up.mu.Unlock()
		if empty {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

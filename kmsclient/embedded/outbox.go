package embedded

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/ebs-dev/ebs/internal/kv"
	"github.com/ebs-dev/ebs/kmsclient/audit"
)

// prefixOutbox holds the audit records of committed changes until the trail
// has them: audit/outbox/<16 hex digits> -> outboxEntry.
const prefixOutbox = "audit/outbox/"

// outboxEntry is the records of one call or sweep, stored in the transaction
// of the change they describe.
type outboxEntry struct {
	// TrailOffset is the trail's synced size when the entry was written;
	// the records are appended after it, so a replay need not look before.
	TrailOffset int64           `json:"trailOffset"`
	Records     []*audit.Record `json:"records"`
}

// delivery is an outbox entry committed with its change, to be appended to
// the trail.
type delivery struct {
	key     string
	records []*audit.Record
}

// outbox makes a change and its audit records durable in one commit, then
// moves the records to the trail: a record reaches the trail exactly once,
// after the change, even across a crash or a failing trail.
//
// A committed entry is delivered by its call: appended to the trail, then
// deleted. An entry whose delivery failed, or that a crash left behind, is
// an orphan: it is delivered again by the next call (or the next sweep), and
// by Open before the KMS serves, appending only the records the trail does
// not hold after the entry's TrailOffset.
type outbox struct {
	db    *kv.DB
	trail *audit.Trail
	log   *slog.Logger
	seq   atomic.Uint64 // the last entry number used

	pending atomic.Bool // orphans is not empty
	mu      sync.Mutex  // held while orphans are delivered: one at a time
	orphans []string    // guarded by mu
	remove  func(key string) error
}

func newOutbox(db *kv.DB, trail *audit.Trail, log *slog.Logger) *outbox {
	o := &outbox{db: db, trail: trail, log: log}
	o.remove = o.delete
	return o
}

// put stores records in tx, as one entry, after filling their EventIDs so
// that a replay can tell whether the trail already has them.
func (o *outbox) put(tx *kv.Txn, records []*audit.Record) (*delivery, error) {
	for _, r := range records {
		r.FillDefaults(r.EventTime)
	}
	key := prefixOutbox + fmt.Sprintf("%016x", o.seq.Add(1))
	entry := outboxEntry{TrailOffset: o.trail.DurableSize(), Records: records}
	if err := putJSON(tx, key, &entry); err != nil {
		return nil, err
	}
	return &delivery{key: key, records: records}, nil
}

// deliver appends a committed entry's records to the trail and deletes the
// entry. If either fails, the entry becomes an orphan, delivered later.
func (o *outbox) deliver(d *delivery) {
	err := o.trail.Append(d.records...)
	if err == nil {
		err = o.remove(d.key)
	}
	if err != nil {
		o.log.Error("audit records kept in the KMS outbox until the trail takes them", "entry", d.key, "err", err)
		o.mu.Lock()
		o.orphans = append(o.orphans, d.key)
		o.mu.Unlock()
		o.pending.Store(true)
	}
}

func (o *outbox) delete(key string) error {
	return o.db.Update(func(tx *kv.Txn) error { return tx.Delete([]byte(key)) })
}

// retry delivers the orphans, if any and if no one else is at it.
func (o *outbox) retry() {
	if !o.pending.Load() || !o.mu.TryLock() {
		return
	}
	defer o.mu.Unlock()
	if err := o.deliverOrphansLocked(); err != nil {
		o.log.Error("audit records still kept in the KMS outbox", "err", err)
	}
}

// recover makes every entry in the store an orphan and delivers them: Open
// calls it before the KMS serves.
func (o *outbox) recover() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	err := o.db.View(func(tx *kv.Txn) error {
		return tx.Scan([]byte(prefixOutbox), nil, func(k, _ []byte) error {
			key := string(k)
			n, err := strconv.ParseUint(key[len(prefixOutbox):], 16, 64)
			if err != nil {
				return fmt.Errorf("outbox entry %q: %w", key, err)
			}
			o.seq.Store(max(o.seq.Load(), n))
			o.orphans = append(o.orphans, key)
			return nil
		})
	})
	if err != nil {
		return err
	}
	return o.deliverOrphansLocked()
}

// deliverOrphansLocked delivers the orphans in order; o.mu is held. It stops
// at the first failure and keeps what is left.
func (o *outbox) deliverOrphansLocked() error {
	for len(o.orphans) > 0 {
		if err := o.redeliver(o.orphans[0]); err != nil {
			o.pending.Store(true)
			return fmt.Errorf("outbox entry %s: %w", o.orphans[0], err)
		}
		o.orphans = o.orphans[1:]
	}
	o.pending.Store(false)
	return nil
}

// redeliver appends the records of an entry that the trail does not hold
// yet, then deletes the entry.
func (o *outbox) redeliver(key string) error {
	var entry *outboxEntry
	err := o.db.View(func(tx *kv.Txn) error {
		var err error
		entry, err = getJSON[outboxEntry](tx, key)
		return err
	})
	if errors.Is(err, kv.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	ids := make([]string, len(entry.Records))
	for i, r := range entry.Records {
		ids[i] = r.EventID
	}
	found, err := o.trail.Contains(entry.TrailOffset, ids)
	if err != nil {
		return err
	}
	var missing []*audit.Record
	for _, r := range entry.Records {
		if !found[r.EventID] {
			missing = append(missing, r)
		}
	}
	if err := o.trail.Append(missing...); err != nil {
		return err
	}
	return o.remove(key)
}

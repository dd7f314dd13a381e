package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ebs-dev/ebs/internal/clock"
	"github.com/ebs-dev/ebs/internal/kv"
	"github.com/ebs-dev/ebs/kmsclient"
	"github.com/ebs-dev/ebs/kmsclient/audit"
	"github.com/ebs-dev/ebs/kmsclient/policy"
)

// Options configure Open.
type Options struct {
	Dir         string // the KMS's own directory, e.g. <data-dir>/kms
	RootKeyFile string // default <Dir>/root.key, created at first start
	Region      string // default "local"
	Account     string // default "000000000000"
	Clock       clock.Clock
	Trail       *audit.Trail // required: every call is recorded here
	Logger      *slog.Logger
	// ErrorCode maps an error to the AWS error code recorded in the audit
	// trail; the API layer owns that table. Default: the error's text.
	ErrorCode func(error) string
	// SweepInterval is how often automatic rotation and due deletions are
	// checked in the background (they are also applied on every key access).
	// Default one minute; negative disables the background sweep.
	SweepInterval time.Duration
}

// KMS is the embedded key management service. It is safe for concurrent use.
type KMS struct {
	mu        sync.Mutex // the write lock: serialises the calls that change the store
	revs      revisions  // which keys changed since a snapshot
	db        *kv.DB
	root      *rootKey
	trail     *audit.Trail
	clock     clock.Clock
	log       *slog.Logger
	errorCode func(error) string
	region    string
	account   string
	policies  policyCache
	outbox    *outbox
	guard     atomic.Pointer[deletionGuard]

	// beforeEvaluate, if set (by tests), is called before each evaluation
	// of a key's policy and grants.
	beforeEvaluate func(principal, keyArn, action string)

	stop chan struct{}
	done chan struct{}
}

var _ kmsclient.Service = (*KMS)(nil)

// Open opens the KMS in o.Dir, creating the root key on first start.
func Open(o Options) (*KMS, error) {
	if o.Trail == nil {
		return nil, errors.New("kms: an audit trail is required")
	}
	o = withDefaults(o)
	root, err := loadRootKey(o.RootKeyFile, o.RootKeyFile == filepath.Join(o.Dir, "root.key"))
	if err != nil {
		return nil, err
	}
	db, err := kv.Open(filepath.Join(o.Dir, "db"), kv.Options{SyncWrites: true, Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	s := &KMS{
		db: db, root: root, trail: o.Trail, clock: o.Clock, log: o.Logger,
		errorCode: o.ErrorCode, region: o.Region, account: o.Account,
		outbox: newOutbox(db, o.Trail, o.Logger),
		stop:   make(chan struct{}), done: make(chan struct{}),
	}
	if err := s.outbox.recover(); err != nil {
		db.Close()
		return nil, fmt.Errorf("kms: deliver the audit records of committed changes to the trail: %w", err)
	}
	go s.sweepLoop(o.SweepInterval)
	return s, nil
}

func withDefaults(o Options) Options {
	if o.Region == "" {
		o.Region = "local"
	}
	if o.Account == "" {
		o.Account = "000000000000"
	}
	if o.RootKeyFile == "" {
		o.RootKeyFile = filepath.Join(o.Dir, "root.key")
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.ErrorCode == nil {
		o.ErrorCode = func(err error) string { return err.Error() }
	}
	if o.SweepInterval == 0 {
		o.SweepInterval = time.Minute
	}
	return o
}

// Close stops the background sweep and closes the store.
func (s *KMS) Close() error {
	close(s.stop)
	<-s.done
	return s.db.Close()
}

// deletionGuard lists what a key still protects (volumes, snapshots).
type deletionGuard func(ctx context.Context, keyArn string) ([]string, error)

// SetDeletionGuard installs the check ScheduleKeyDeletion runs unless
// Force: guard lists what the key still protects (volumes, snapshots).
func (s *KMS) SetDeletionGuard(guard func(ctx context.Context, keyArn string) ([]string, error)) {
	g := deletionGuard(guard)
	s.guard.Store(&g)
}

func (s *KMS) deletionGuard() deletionGuard {
	if g := s.guard.Load(); g != nil {
		return *g
	}
	return nil
}

// Region and Account name where the KMS's keys live.
func (s *KMS) Region() string  { return s.region }
func (s *KMS) Account() string { return s.account }

func (s *KMS) now() time.Time { return s.clock.Now().UTC() }

func (s *KMS) sweepLoop(every time.Duration) {
	defer close(s.done)
	clock.Every(s.stop, every, func() {
		s.outbox.retry()
		if err := s.Sweep(context.Background()); err != nil {
			s.log.Error("kms sweep", "err", err)
		}
	})
}

// Sweep applies what the clock has made due: automatic rotations and the
// deletion of keys whose waiting period has passed. It runs in the background
// and after the clock is moved. The service events go to the outbox in the
// transaction of the changes, then to the trail.
func (s *KMS) Sweep(ctx context.Context) error {
	var d *delivery
	var changed []string
	err := func() error {
		s.mu.Lock()
		defer s.mu.Unlock()
		err := s.db.Update(func(tx *kv.Txn) error {
			var events []*audit.Record
			err := scanJSON(tx, prefixKey, func(k *keyRecord) error {
				ev, err := s.applyTime(tx, k)
				events = append(events, ev...)
				return err
			})
			if err != nil || len(events) == 0 {
				return err
			}
			if d, err = s.outbox.put(tx, events); err != nil {
				return err
			}
			for _, ev := range events {
				changed = append(changed, ev.Resources[0].ARN)
			}
			return nil
		})
		if err == nil && d != nil {
			s.revs.publish(changed)
		}
		return err
	}()
	if err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	if d != nil {
		s.outbox.deliver(d)
	}
	return nil
}

// policyCache keeps parsed key policies by their text.
type policyCache struct {
	mu sync.Mutex
	m  map[string]*policy.Document
}

// parse returns the parsed policy. It parses outside the cache's lock, so
// that a long policy holds up no other call.
func (c *policyCache) parse(text string) (*policy.Document, error) {
	c.mu.Lock()
	d, ok := c.m[text]
	c.mu.Unlock()
	if ok {
		return d, nil
	}
	d, err := policy.Parse(text)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) > 1024 {
		c.m = map[string]*policy.Document{}
	}
	c.m[text] = d
	return d, nil
}

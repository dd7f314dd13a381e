package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/ebs-dev/ebs/api"
	"github.com/ebs-dev/ebs/blockdev"
	"github.com/ebs-dev/ebs/blockdev/store"
	"github.com/ebs-dev/ebs/ec2"
	"github.com/ebs-dev/ebs/fs"
	"github.com/ebs-dev/ebs/iam"
	"github.com/ebs-dev/ebs/internal/clock"
	"github.com/ebs-dev/ebs/internal/kv"
	"github.com/ebs-dev/ebs/kmsclient/audit"
	"github.com/ebs-dev/ebs/kmsclient/embedded"
	"github.com/ebs-dev/ebs/snapshot"
)

// daemon is everything `ebs serve` runs, opened bottom up and closed top
// down.
type daemon struct {
	log    *slog.Logger
	clock  clock.Clock
	offset *clock.Offset
	trail  *audit.Trail
	kms    *embedded.KMS
	meta   *kv.DB
	store  *store.Store
	vols   *blockdev.Manager
	snaps  *snapshot.Service
	mount  *fs.MountPoint
	ec2    *ec2.Service
	iam    *iam.Store
	closes []func() error // in opening order
}

func openDaemon(ctx context.Context, o serveOptions, log *slog.Logger) (*daemon, error) {
	d := &daemon{log: log, clock: clock.Real{}}
	if o.clockOffset != 0 || o.clockControl {
		d.offset = clock.NewOffset(o.clockOffset)
		d.clock = d.offset
	}
	for _, step := range []func(context.Context, serveOptions) error{d.openIAM, d.openKMS, d.openVolumes, d.openMount} {
		if err := step(ctx, o); err != nil {
			return d, err
		}
	}
	if err := d.ec2.Start(ctx); err != nil {
		return d, err
	}
	return d, d.snaps.Start(ctx)
}

// openIAM opens the access keys that sign requests to the AWS endpoint.
func (d *daemon) openIAM(ctx context.Context, o serveOptions) error {
	var err error
	if d.iam, err = iam.Open(filepath.Join(o.dataDir, "iam"), d.clock); err != nil {
		return fmt.Errorf("iam: %w", err)
	}
	return nil
}

func (d *daemon) openKMS(ctx context.Context, o serveOptions) error {
	var err error
	if d.trail, err = audit.Open(filepath.Join(o.dataDir, "cloudtrail", "events.jsonl")); err != nil {
		return fmt.Errorf("audit trail: %w", err)
	}
	d.closes = append(d.closes, d.trail.Close)
	d.kms, err = embedded.Open(embedded.Options{
		Dir: filepath.Join(o.dataDir, "kms"), RootKeyFile: o.rootKeyFile, Region: o.region, Account: o.account,
		Clock: d.clock, Trail: d.trail, Logger: d.log, ErrorCode: api.ErrorCode,
	})
	if err != nil {
		return fmt.Errorf("kms: %w", err)
	}
	d.closes = append(d.closes, d.kms.Close)
	return d.kms.Sweep(ctx)
}

func (d *daemon) openVolumes(ctx context.Context, o serveOptions) error {
	var err error
	if d.meta, err = kv.Open(filepath.Join(o.dataDir, "meta"), kv.Options{Logger: d.log}); err != nil {
		return err
	}
	d.closes = append(d.closes, d.meta.Close)
	if d.store, err = store.Open(filepath.Join(o.dataDir, "blocks"), d.meta, store.Options{Logger: d.log}); err != nil {
		return err
	}
	d.closes = append(d.closes, d.store.Close)
	d.vols = blockdev.NewManager(blockdev.Config{
		DB: d.meta, Store: d.store, KMS: d.kms, Region: o.region, Account: o.account, Clock: d.clock, Logger: d.log,
	})
	d.closes = append(d.closes, d.vols.Close)
	d.snaps = snapshot.New(snapshot.Config{DB: d.meta, Store: d.store, Volumes: d.vols, Account: o.account, Clock: d.clock, Logger: d.log})
	d.closes = append(d.closes, d.snaps.Close)
	d.kms.SetDeletionGuard(d.snaps.KeyUsers)
	return nil
}

func (d *daemon) openMount(ctx context.Context, o serveOptions) error {
	var err error
	if d.mount, err = fs.Mount(o.mountDir, fs.Options{Logger: d.log}); err != nil {
		return fmt.Errorf("mount %s: %w", o.mountDir, err)
	}
	d.closes = append(d.closes, d.mount.Unmount)
	d.ec2 = ec2.New(d.vols, d.snaps, d.mount, o.mountDir, d.log)
	return nil
}

// close shuts everything down in reverse order: unmount, close volumes
// (they stay attached in their records), flush the store, close the KMS.
func (d *daemon) close() {
	var errs []error
	for i := len(d.closes) - 1; i >= 0; i-- {
		errs = append(errs, d.closes[i]())
	}
	if err := errors.Join(errs...); err != nil {
		d.log.Error("shutdown", "err", err)
	}
}

func (d *daemon) apiConfig(o serveOptions) api.Config {
	cfg := api.Config{KMS: d.kms, Trail: d.trail, Account: o.account, Region: o.region, Logger: d.log, EC2: d.ec2, IAM: d.iam,
		RateLimit: o.listenRate, RateBurst: max(1, int(2*o.listenRate))}
	if o.clockControl {
		cfg.Clock = clockControl{offset: d.offset, kms: d.kms}
	}
	return cfg
}

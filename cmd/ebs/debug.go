package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"
)

// debugGroup holds the commands for demos and tests that the daemon only
// answers when it runs with --clock-control.
func debugGroup() groupSpec {
	return groupSpec{
		name:  "debug",
		short: "Move the daemon's clock (ebs serve --clock-control)",
		long: `Commands for demos and tests. They work only when the daemon runs with
--clock-control, and only for root.`,
		commands: []commandSpec{{
			operation: "AdvanceClock",
			short:     "Move the daemon's clock forward; due rotations and key deletions happen now",
			example: `  ebs debug advance-clock --days 8     # a key scheduled for deletion in 7 days is deleted
  ebs debug advance-clock --hours 1`,
			params: []param{
				flagOnly("days", kindInt).doc("days to move the clock forward"),
				flagOnly("hours", kindInt).doc("hours to move the clock forward"),
			},
			prepare: clockSeconds,
		}},
	}
}

// clockSeconds turns --days and --hours into the request's Seconds.
func clockSeconds(values map[string]any, body *object) error {
	total := int64(0)
	for flag, unit := range map[string]int64{"days": 86400, "hours": 3600} {
		if n, ok := values[flag].(json.Number); ok {
			v, err := n.Int64()
			if err != nil || v < 0 {
				return usageErrorf("--%s must be a whole number of at least 0", flag)
			}
			total += v * unit
		}
	}
	if total == 0 {
		return usageErrorf("give --days or --hours")
	}
	body.set("Seconds", json.Number(fmt.Sprint(total)))
	return nil
}

// newWaitReadyCommand is `ebs wait-ready`: it blocks until the daemon's
// socket answers, for scripts that start `ebs serve` in the background.
func newWaitReadyCommand(a *app) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "wait-ready",
		Short: "Wait until the daemon answers on its socket",
		Example: `  ebs serve --data-dir /tmp/ebs & 
  ebs --socket /tmp/ebs/ebs.sock wait-ready --timeout 30s`,
		Args: noPositionalArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return waitReady(cmd.Context(), a.opts.socket, timeout)
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "how long to wait")
	return cmd
}

func waitReady(ctx context.Context, socket string, timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", socket)
		},
	}}
	deadline := time.Now().Add(timeout)
	for {
		resp, err := client.Get("http://ebs/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the daemon on %s was not ready after %v", socket, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

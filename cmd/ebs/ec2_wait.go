package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// `ebs ec2 wait <waiter>`: poll a Describe call until every resource it
// returns is in the wanted state, as the AWS CLI's waiters do.

// defaultWaitTimeout is how long a waiter polls unless --timeout says.
const defaultWaitTimeout = 30 * time.Minute

// waiterSpec is one waiter: the Describe operation it polls, the list in
// the answer, and the states that end it.
type waiterSpec struct {
	name      string   // the cobra name, e.g. "snapshot-completed"
	waiter    string   // the AWS waiter name, e.g. "SnapshotCompleted"
	operation string   // the Describe operation polled
	list      string   // the member of the answer that lists the resources
	success   string   // the state every resource must reach
	failure   []string // a resource in one of these states fails the wait
	progress  bool     // show the average Progress as a bar on a terminal
	short     string
	long      string
	example   string
	params    []param
	prepare   func(values map[string]any, body *object) error
}

// waitItem is what a waiter reads of one resource.
type waitItem struct {
	SnapshotID   string  `json:"SnapshotId"`
	VolumeID     string  `json:"VolumeId"`
	State        string  `json:"State"`
	StateMessage string  `json:"StateMessage"`
	Progress     percent `json:"Progress"`
}

func (it waitItem) id() string {
	if it.SnapshotID != "" {
		return it.SnapshotID
	}
	return it.VolumeID
}

func ec2Waiters() []waiterSpec {
	volumeIDs := []param{list("VolumeIds").doc("volume ids")}
	return []waiterSpec{
		{name: "snapshot-completed", waiter: "SnapshotCompleted", operation: "DescribeSnapshots", list: "Snapshots",
			success: "completed", failure: []string{"error"}, progress: true,
			short: "Wait until snapshots are completed",
			long: `Wait until every snapshot named (or matched by the filters) is completed. A
snapshot that ends in the error state fails the wait with its StateMessage.
While waiting, a terminal shows the average progress.`,
			example: `  ebs ec2 wait snapshot-completed --snapshot-ids snap-0123456789abcdef0
  SNAP=$(ebs ec2 copy-snapshot --source-snapshot-id snap-0123456789abcdef0 --encrypted --query SnapshotId --output text)
  ebs ec2 wait snapshot-completed --snapshot-ids "$SNAP" --timeout 2h`,
			params: describeSnapshotsParams(), prepare: addVolumeFilter},
		{name: "volume-available", waiter: "VolumeAvailable", operation: "DescribeVolumes", list: "Volumes",
			success: "available", failure: []string{"deleted", "error"},
			short:   "Wait until volumes are available (created, and detached)",
			example: `  ebs ec2 wait volume-available --volume-ids vol-0123456789abcdef0`,
			params:  volumeIDs},
		{name: "volume-in-use", waiter: "VolumeInUse", operation: "DescribeVolumes", list: "Volumes",
			success: "in-use", failure: []string{"deleted", "error"},
			short:   "Wait until volumes are in use (attached)",
			example: `  ebs ec2 wait volume-in-use --volume-ids vol-0123456789abcdef0`,
			params:  volumeIDs},
	}
}

// newEC2WaitCommand is `ebs ec2 wait` with one subcommand per waiter.
func newEC2WaitCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "wait",
		Short: "Wait until snapshots or volumes reach a state",
		Long: `Wait until snapshots or volumes reach a state, polling the daemon every
half second, as the AWS CLI's waiters do. A waiter prints nothing and exits 0
on success; it exits 255 with "Waiter <Name> failed: <reason>" on stderr when a
resource reaches a failure state, a call fails, or --timeout passes.`,
		Example: `  ebs ec2 wait snapshot-completed --snapshot-ids snap-0123456789abcdef0`,
		Args:    operationArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	for _, w := range ec2Waiters() {
		cmd.AddCommand(newWaiterCommand(a, "ec2", w))
	}
	return cmd
}

func newWaiterCommand(a *app, service string, w waiterSpec) *cobra.Command {
	long := w.long
	if long == "" {
		long = w.short + "."
	}
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   w.name,
		Short: w.short,
		Long: long + "\n\nPolls the " + w.operation + " API of the ebs daemon's " + service + " service every half\n" +
			"second. Prints nothing on success; exits 255 on failure or timeout.",
		Example: w.example,
		Args:    noPositionalArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			spec := commandSpec{operation: w.operation, params: w.params, prepare: w.prepare}
			body, _, err := buildRequest(cmd.Flags(), spec, a.opts.binaryFormat)
			if err != nil {
				return err
			}
			if timeout <= 0 {
				return usageErrorf("--timeout must be positive")
			}
			return a.runWaiter(cmd.Context(), service, w, body, timeout)
		},
	}
	fs := cmd.Flags()
	fs.SortFlags = false
	for _, p := range w.params {
		p.addFlag(fs)
	}
	fs.DurationVar(&timeout, "timeout", defaultWaitTimeout, "give up after this long (e.g. 90s, 2h)")
	return cmd
}

// runWaiter polls until every resource is in w.success, one is in a
// failure state, a call fails or timeout passes.
func (a *app) runWaiter(ctx context.Context, service string, w waiterSpec, body object, timeout time.Duration) error {
	var bar *progressBar
	if w.progress {
		bar = a.newProgressBar(w.name)
	}
	defer bar.stop()
	deadline := time.Now().Add(timeout)
	client := a.client()
	for {
		raw, err := client.Call(ctx, service, w.operation, body)
		if err != nil {
			return w.failed(err)
		}
		items, err := waitItems(raw, w.list)
		if err != nil {
			return w.failed(fmt.Errorf("decode %s response: %w", w.operation, err))
		}
		done, err := w.check(items)
		if err != nil {
			return err
		}
		if done {
			bar.finish()
			return nil
		}
		bar.set(averageProgress(items, w.success))
		if time.Now().After(deadline) {
			return failuref("Waiter %s failed: Max attempts exceeded (not all %s after %v)", w.waiter, w.success, timeout)
		}
		if err := pause(ctx, a.pollInterval); err != nil {
			return w.failed(err)
		}
	}
}

// check reports whether every item reached w.success (an empty list has
// not), or fails when one is in a failure state.
func (w waiterSpec) check(items []waitItem) (bool, error) {
	all := len(items) > 0
	for _, it := range items {
		for _, f := range w.failure {
			if it.State == f {
				return false, failuref("Waiter %s failed: %s", w.waiter, it.failureReason())
			}
		}
		if it.State != w.success {
			all = false
		}
	}
	return all, nil
}

func (it waitItem) failureReason() string {
	if it.StateMessage != "" {
		return it.StateMessage
	}
	return fmt.Sprintf("%s is in the %q state", it.id(), it.State)
}

// failed turns an error met while waiting into the waiter's failure. The
// AWS CLI reports a service error met by a waiter this way, and exits 255.
func (w waiterSpec) failed(err error) error {
	var ce *ConnectError
	if errors.As(err, &ce) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return failuref("Waiter %s failed: interrupted: %v", w.waiter, err)
	}
	return failuref("Waiter %s failed: %s", w.waiter, err.Error())
}

// waitItems decodes the list member of a Describe answer.
func waitItems(raw json.RawMessage, member string) ([]waitItem, error) {
	var page map[string]json.RawMessage
	if err := json.Unmarshal(raw, &page); err != nil {
		return nil, err
	}
	var items []waitItem
	if v, ok := page[member]; ok && !strings.EqualFold(strings.TrimSpace(string(v)), "null") {
		if err := json.Unmarshal(v, &items); err != nil {
			return nil, err
		}
	}
	return items, nil
}

// averageProgress is the mean Progress of the items, counting those in
// the success state as 100 %.
func averageProgress(items []waitItem, success string) int {
	if len(items) == 0 {
		return 0
	}
	total := 0
	for _, it := range items {
		if it.State == success {
			total += 100
		} else {
			total += int(it.Progress)
		}
	}
	return total / len(items)
}

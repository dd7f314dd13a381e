// Command ebs is a local implementation of AWS KMS and EBS in one binary.
//
// `ebs serve` runs the daemon: a KMS (keys, aliases, rotation, policies,
// grants, envelope encryption), EBS-like volumes and snapshots encrypted
// with per-volume AES-XTS data keys, a FUSE mount that shows each attached
// volume as a file, and a CloudTrail-like audit trail.
//
// Every other command is a client of that daemon and looks like the AWS
// CLI: `ebs kms encrypt --key-id alias/app --plaintext fileb://secret`,
// `ebs cloudtrail lookup-events --event-name Decrypt`. It sends the AWS
// API request as JSON to POST /<service>/<Operation> on the daemon's unix
// socket (--socket, $EBS_SOCKET, or /var/lib/ebs/ebs.sock), prints the
// response as JSON (or --output table / text, filtered by --query), and
// exits like the AWS CLI: 0 success, 252 usage error, 254 service error,
// 255 anything else (see exitcodes.go).
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// runMain runs one invocation of ebs and returns its exit code.
func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runApp(ctx, newApp(stdout, stderr), args)
}

func newApp(stdout, stderr io.Writer) *app {
	return &app{stdout: stdout, stderr: stderr, getenv: os.Getenv, loc: time.Local,
		isTerminal: writerIsTerminal, pollInterval: defaultPollInterval}
}

func runApp(ctx context.Context, a *app, args []string) int {
	root := newRootCommand(a)
	root.SetArgs(spreadListArgs(root, args))
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	cmd, err := root.ExecuteContextC(ctx)
	path := "ebs"
	if cmd != nil {
		path = cmd.CommandPath()
	}
	return reportError(a.stderr, err, path)
}

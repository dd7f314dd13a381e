package main

import (
	"io"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// cliVersion is set at link time: -ldflags "-X main.cliVersion=v1.2.3".
var cliVersion = ""

// globalOptions are the persistent flags of every command.
type globalOptions struct {
	socket       string
	output       string
	query        string
	region       string
	debug        bool
	binaryFormat string
}

// AddFlags registers the options on the root command's persistent flags.
func (o *globalOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.socket, "socket", defaultClientSocket, "the daemon's unix socket; when not given, $EBS_SOCKET if set")
	fs.StringVar(&o.output, "output", formatJSON, "output format: json, table or text")
	fs.StringVar(&o.query, "query", "", "a JMESPath expression to filter the output, as in the AWS CLI")
	fs.StringVar(&o.region, "region", "", "accepted for compatibility with the AWS CLI; the daemon has one region")
	fs.BoolVar(&o.debug, "debug", false, "log the HTTP exchange with the daemon to stderr")
	fs.StringVar(&o.binaryFormat, "cli-binary-format", binaryBase64,
		"how blob arguments are read: base64, or raw-in-base64-out to take the text as raw bytes")
}

// app is the state shared by the commands of one invocation.
type app struct {
	opts   globalOptions
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	loc    *time.Location // timestamps are printed in this zone (local, like the AWS CLI)
	query  *query
	log    *slog.Logger
	// isTerminal reports whether a writer is a terminal; progress bars are
	// drawn on stderr only then.
	isTerminal func(io.Writer) bool
	// pollInterval is how often waiters ask the daemon.
	pollInterval time.Duration
}

// newRootCommand makes `ebs` with every command group.
func newRootCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ebs",
		Short: "A local AWS KMS and EBS: encrypted block volumes with envelope encryption",
		Long: `ebs runs a local AWS KMS and EBS ('ebs serve') and talks to it like the AWS CLI:
the same command groups, flag names, JSON field names, errors and exit codes.

Exit codes: 0 success, 252 bad command line, 254 the service returned an
error, 255 anything else (for example, the daemon is not running).`,
		Example: `  ebs serve --data-dir /var/lib/ebs &
  ebs kms create-key --description "app key"
  ebs kms list-keys --output table
  ebs --socket /tmp/ebs.sock kms describe-key --key-id alias/app --query KeyMetadata.KeyState --output text`,
		Version:           buildVersion(),
		SilenceErrors:     true,
		SilenceUsage:      true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error { return a.setup(cmd) },
	}
	a.opts.AddFlags(cmd.PersistentFlags())
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErrorf("%w", err) })
	cmd.AddCommand(
		newServeCommand(),
		newGroupCommand(a, kmsGroup()),
		newGroupCommand(a, ec2Group()),
		newGroupCommand(a, ebsGroup()),
		newGroupCommand(a, cloudtrailGroup()),
		newGroupCommand(a, iamGroup()),
		newGroupCommand(a, debugGroup()),
		newWaitReadyCommand(a),
	)
	markRunErrors(cmd)
	return cmd
}

// markRunErrors makes every error returned by a command's RunE exit with
// its own code or exitFailure (see asFailure), so that only cobra's own
// parse errors are left to exit with exitUsage.
func markRunErrors(cmd *cobra.Command) {
	if run := cmd.RunE; run != nil {
		cmd.RunE = func(c *cobra.Command, args []string) error { return asFailure(run(c, args)) }
	}
	for _, sub := range cmd.Commands() {
		markRunErrors(sub)
	}
}

// setup checks the global flags once they are parsed.
func (a *app) setup(cmd *cobra.Command) error {
	switch a.opts.output {
	case formatJSON, formatTable, formatText:
	default:
		return usageErrorf("argument --output: Invalid choice %q, valid choices are: json | table | text", a.opts.output)
	}
	switch a.opts.binaryFormat {
	case binaryBase64, binaryRaw:
	default:
		return usageErrorf("argument --cli-binary-format: Invalid choice %q, valid choices are: base64 | raw-in-base64-out", a.opts.binaryFormat)
	}
	if a.opts.query != "" {
		q, err := compileQuery(a.opts.query)
		if err != nil {
			return err
		}
		a.query = q
	}
	if !cmd.Flags().Changed("socket") {
		if env := a.getenv("EBS_SOCKET"); env != "" {
			a.opts.socket = env
		}
	}
	level := slog.LevelWarn
	if a.opts.debug {
		level = slog.LevelDebug
	}
	a.log = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
	return nil
}

func (a *app) client() *Client {
	return NewClient(a.opts.socket, a.log)
}

func (a *app) printer() *printer {
	return &printer{format: a.opts.output, query: a.query, loc: a.loc, out: a.stdout}
}

// buildVersion is cliVersion, else the module version the binary was
// built from.
func buildVersion() string {
	if cliVersion != "" {
		return cliVersion
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

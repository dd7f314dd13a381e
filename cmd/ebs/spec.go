package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Every API command is a commandSpec in a groupSpec; one mechanism turns
// them into cobra commands, builds the request from the flags, calls the
// daemon and prints the response. Adding a command is adding a spec.

// groupSpec is a command group such as `ebs kms`: one daemon service.
type groupSpec struct {
	name     string // the cobra name and the service in POST /<service>/<Operation>
	short    string
	long     string
	commands []commandSpec
	// extra, when set, adds hand-written subcommands (e.g. `ebs ec2 wait`).
	extra func(a *app) []*cobra.Command
}

// commandSpec is one API command, such as `ebs kms encrypt`.
type commandSpec struct {
	operation string // the AWS API operation, e.g. "Encrypt"
	name      string // the cobra name; derived from operation when empty ("encrypt")
	short     string // one line for the group's command list
	long      string // optional; short is used when empty
	example   string // at least one realistic invocation
	params    []param
	// prepare, when set, adjusts the request after the flags are set in it;
	// values holds every parsed flag by flag name (for flags with no member).
	prepare func(values map[string]any, body *object) error
	// then, when set, runs after a successful call and returns the response
	// to print instead (encrypt-volume --wait follows the task to its end).
	then func(ctx context.Context, a *app, values map[string]any, raw json.RawMessage) (json.RawMessage, error)
}

// param is one flag: the AWS request member it fills, and how its text is
// read (see paramKind).
type param struct {
	member   string // AWS request member, e.g. "KeyId"; "" when prepare uses it
	flag     string // derived from member when empty ("key-id")
	kind     paramKind
	required bool
	usage    string
	keys     []string // kindStruct, kindStructList: the members allowed
}

// Constructors for the params of the specs.
func str(member string) param                 { return param{member: member, kind: kindString} }
func blob(member string) param                { return param{member: member, kind: kindBlob} }
func integer(member string) param             { return param{member: member, kind: kindInt} }
func boolean(member string) param             { return param{member: member, kind: kindBool} }
func list(member string) param                { return param{member: member, kind: kindList} }
func stringMap(member string) param           { return param{member: member, kind: kindMap} }
func timestamp(member string) param           { return param{member: member, kind: kindTime} }
func flagOnly(flag string, k paramKind) param { return param{flag: flag, kind: k} }

func structure(member string, keys ...string) param {
	return param{member: member, kind: kindStruct, keys: keys}
}

func structList(member string, keys ...string) param {
	return param{member: member, kind: kindStructList, keys: keys}
}

// req marks p required.
func (p param) req() param { p.required = true; return p }

// doc sets the help text of p.
func (p param) doc(usage string) param { p.usage = usage; return p }

func (p param) flagName() string {
	if p.flag != "" {
		return p.flag
	}
	return cliName(p.member)
}

func (s commandSpec) cliName() string {
	if s.name != "" {
		return s.name
	}
	return cliName(s.operation)
}

// cliName turns an AWS name into the AWS CLI's: GenerateDataKey ->
// generate-data-key, KeyId -> key-id, ARNValue -> arn-value.
func cliName(aws string) string {
	r := []rune(aws)
	var b strings.Builder
	for i, c := range r {
		if i > 0 && unicode.IsUpper(c) {
			prev := r[i-1]
			nextLower := i+1 < len(r) && unicode.IsLower(r[i+1])
			if unicode.IsLower(prev) || unicode.IsDigit(prev) || (unicode.IsUpper(prev) && nextLower) {
				b.WriteByte('-')
			}
		}
		b.WriteRune(unicode.ToLower(c))
	}
	return b.String()
}

func (p param) helpText() string {
	var parts []string
	if p.required {
		parts = append(parts, "(required)")
	}
	text := p.usage
	if text == "" {
		text = p.member
	}
	parts = append(parts, text)
	if h := p.kind.hint(); h != "" {
		parts = append(parts, "["+h+"]")
	}
	return strings.Join(parts, " ")
}

func (p param) addFlag(fs *pflag.FlagSet) {
	name := p.flagName()
	if p.kind != kindBool {
		fs.Var(&paramValue{kind: p.kind}, name, p.helpText())
		return
	}
	fs.Bool(name, false, p.helpText()+" (--no-"+name+" to turn it off)")
	fs.Bool("no-"+name, false, "")
	_ = fs.MarkHidden("no-" + name)
}

// changed reports whether the flag (or its --no- form) was given.
func (p param) changed(fs *pflag.FlagSet) bool {
	return fs.Changed(p.flagName()) || (p.kind == kindBool && fs.Changed("no-"+p.flagName()))
}

// value parses the flag's text into the request value.
func (p param) value(fs *pflag.FlagSet, binaryFormat string) (any, error) {
	name := p.flagName()
	if p.kind == kindBool {
		on, _ := fs.GetBool(name)
		off, _ := fs.GetBool("no-" + name)
		if on && off {
			return nil, usageErrorf("--%s and --no-%s cannot be given together", name, name)
		}
		return on && !off, nil
	}
	raw := fs.Lookup(name).Value.(*paramValue).vals
	v, err := parseParam(p.kind, raw, p.keys, binaryFormat)
	if err != nil {
		return nil, usageErrorf("Error parsing parameter '--%s': %w", name, err)
	}
	return v, nil
}

// buildRequest makes the request body from the flags, in spec order, and
// returns it with every parsed flag by flag name.
func buildRequest(fs *pflag.FlagSet, s commandSpec, binaryFormat string) (object, map[string]any, error) {
	body := object{}
	values := map[string]any{}
	var missing []string
	for _, p := range s.params {
		if !p.changed(fs) {
			if p.required {
				missing = append(missing, "--"+p.flagName())
			}
			continue
		}
		v, err := p.value(fs, binaryFormat)
		if err != nil {
			return nil, nil, err
		}
		values[p.flagName()] = v
		if p.member != "" {
			body.set(p.member, v)
		}
	}
	if len(missing) > 0 {
		return nil, nil, usageErrorf("the following arguments are required: %s", strings.Join(missing, ", "))
	}
	if s.prepare != nil {
		if err := s.prepare(values, &body); err != nil {
			return nil, nil, err
		}
	}
	return body, values, nil
}

// newGroupCommand makes `ebs <group>` with one subcommand per spec.
func newGroupCommand(a *app, g groupSpec) *cobra.Command {
	cmd := &cobra.Command{
		Use:   g.name,
		Short: g.short,
		Long:  g.long,
		Args:  operationArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	for _, s := range g.commands {
		cmd.AddCommand(newOperationCommand(a, g.name, s))
	}
	if g.extra != nil {
		cmd.AddCommand(g.extra(a)...)
	}
	return cmd
}

// operationArgs rejects an unknown operation, as the AWS CLI does.
func operationArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("argument operation: Invalid choice %q for '%s'", args[0], cmd.CommandPath())
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += ", did you mean: " + strings.Join(s, ", ")
	}
	return usageErrorf("%s", msg)
}

// newOperationCommand makes the cobra command of one spec.
func newOperationCommand(a *app, service string, s commandSpec) *cobra.Command {
	long := s.long
	if long == "" {
		long = s.short + "."
	}
	cmd := &cobra.Command{
		Use:     s.cliName(),
		Short:   s.short,
		Long:    long + "\n\nCalls the " + s.operation + " API of the ebs daemon's " + service + " service.",
		Example: s.example,
		Args:    noPositionalArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runOperation(cmd, service, s)
		},
	}
	fs := cmd.Flags()
	fs.SortFlags = false
	for _, p := range s.params {
		p.addFlag(fs)
	}
	return cmd
}

func noPositionalArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf("unexpected argument %q (each flag takes one value; give a list comma-separated or repeat the flag)", args[0])
	}
	return nil
}

// runOperation builds the request, calls the daemon and prints the answer.
func (a *app) runOperation(cmd *cobra.Command, service string, s commandSpec) error {
	body, values, err := buildRequest(cmd.Flags(), s, a.opts.binaryFormat)
	if err != nil {
		return err
	}
	raw, err := a.client().Call(cmd.Context(), service, s.operation, body)
	if err != nil {
		return err
	}
	if s.then != nil {
		if raw, err = s.then(cmd.Context(), a, values, raw); err != nil {
			return err
		}
	}
	return a.printer().print(s.operation, raw)
}

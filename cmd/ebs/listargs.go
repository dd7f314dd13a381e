package main

import (
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// spreadListArgs lets list flags take several values, as the AWS CLI does:
// `--snapshot-ids a b c` becomes `--snapshot-ids a --snapshot-ids b
// --snapshot-ids c`. No command takes positional arguments, so every bare
// word after a list flag's value belongs to it.
func spreadListArgs(root *cobra.Command, args []string) []string {
	cmd, _, err := root.Find(args)
	if err != nil || cmd == nil {
		return args
	}
	lists := map[string]bool{}
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if isListFlag(f) {
			lists["--"+f.Name] = true
		}
	})
	if len(lists) == 0 {
		return args
	}
	out := make([]string, 0, len(args))
	list, haveValue := "", false
	for _, a := range args {
		switch {
		case a == "--":
			list = ""
		case strings.HasPrefix(a, "-"):
			list, haveValue = "", false
			if lists[a] {
				list = a
			}
		case list != "" && haveValue:
			out = append(out, list)
		case list != "":
			haveValue = true
		}
		out = append(out, a)
	}
	return out
}

func isListFlag(f *pflag.Flag) bool {
	if pv, ok := f.Value.(*paramValue); ok {
		return pv.kind.repeatable()
	}
	t := f.Value.Type()
	return t == "stringSlice" || t == "stringArray"
}

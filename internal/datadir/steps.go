package datadir

import "log/slog"

// Current is the data dir format this ebs writes and reads.
const Current = 2

// The history of the format (also in DESIGN.md, "Data dir format"):
//
//	1  ebs up to commit ff213ed: no FORMAT file; kms/, meta/, blocks/,
//	   cloudtrail/ and iam/ as DESIGN.md describes them.
//	2  the FORMAT file. Nothing else changed: no byte that format 1 wrote
//	   means anything different, so the step from 1 only records the version.
//
// steps[i] upgrades format i+1 to i+2.
var steps = []step{
	{to: 2, what: "record the format version (no data changes)", run: upgrade1to2},
}

// upgrade1to2 has nothing to do: format 2 is format 1 plus the FORMAT file,
// which the caller writes when the step returns.
func upgrade1to2(dir string, log *slog.Logger) error { return nil }

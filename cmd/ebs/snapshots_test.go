package main

import (
	"io"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSnapshotCommandRequests checks the exact request each snapshot, EBS
// direct and encrypt-volume command sends.
func TestSnapshotCommandRequests(t *testing.T) {
	tests := []struct {
		args []string
		path string
		body string
	}{
		{[]string{"ec2", "create-snapshot", "--volume-id", "vol-1", "--description", "before upgrade"},
			"/ec2/CreateSnapshot", `{"VolumeId":"vol-1","Description":"before upgrade"}`},
		{[]string{"ec2", "create-snapshot", "--volume-id", "vol-1"}, "/ec2/CreateSnapshot", `{"VolumeId":"vol-1"}`},
		{[]string{"ec2", "describe-snapshots"}, "/ec2/DescribeSnapshots", `{}`},
		{[]string{"ec2", "describe-snapshots", "--snapshot-ids", "snap-1,snap-2", "--snapshot-ids", "snap-3"},
			"/ec2/DescribeSnapshots", `{"SnapshotIds":["snap-1","snap-2","snap-3"]}`},
		{[]string{"ec2", "describe-snapshots", "--filters", "Name=volume-id,Values=vol-1,vol-2"},
			"/ec2/DescribeSnapshots", `{"Filters":[{"Name":"volume-id","Values":["vol-1","vol-2"]}]}`},
		{[]string{"ec2", "describe-snapshots", "--filters", "Name=volume-id,Values=vol-1", "--filters", "Name=status,Values=completed"},
			"/ec2/DescribeSnapshots", `{"Filters":[{"Name":"volume-id","Values":["vol-1"]},{"Name":"status","Values":["completed"]}]}`},
		{[]string{"ec2", "describe-snapshots", "--filters", `[{"Name":"encrypted","Values":["true"]}]`},
			"/ec2/DescribeSnapshots", `{"Filters":[{"Name":"encrypted","Values":["true"]}]}`},
		{[]string{"ec2", "describe-snapshots", "--volume-id", "vol-1"},
			"/ec2/DescribeSnapshots", `{"Filters":[{"Name":"volume-id","Values":["vol-1"]}]}`},
		{[]string{"ec2", "describe-snapshots", "--snapshot-ids", "snap-1", "--filters", "Name=status,Values=pending", "--volume-id", "vol-1"},
			"/ec2/DescribeSnapshots", `{"SnapshotIds":["snap-1"],"Filters":[{"Name":"status","Values":["pending"]},{"Name":"volume-id","Values":["vol-1"]}]}`},
		{[]string{"ec2", "delete-snapshot", "--snapshot-id", "snap-1"}, "/ec2/DeleteSnapshot", `{"SnapshotId":"snap-1"}`},
		{[]string{"ec2", "copy-snapshot", "--source-snapshot-id", "snap-1", "--encrypted", "--kms-key-id", "alias/app",
			"--description", "copy", "--source-region", "local"},
			"/ec2/CopySnapshot", `{"SourceSnapshotId":"snap-1","Encrypted":true,"KmsKeyId":"alias/app","Description":"copy","SourceRegion":"local"}`},
		{[]string{"ec2", "copy-snapshot", "--source-snapshot-id", "snap-1"}, "/ec2/CopySnapshot", `{"SourceSnapshotId":"snap-1"}`},
		{[]string{"ec2", "rewrap-snapshot", "--snapshot-id", "snap-1", "--kms-key-id", "alias/new"},
			"/ec2/RewrapSnapshot", `{"SnapshotId":"snap-1","KmsKeyId":"alias/new"}`},
		{[]string{"ec2", "encrypt-volume", "--volume-id", "vol-1", "--kms-key-id", "alias/app"},
			"/ec2/EncryptVolume", `{"VolumeId":"vol-1","KmsKeyId":"alias/app"}`},
		{[]string{"ec2", "encrypt-volume", "--volume-id", "vol-1", "--cleanup"},
			"/ec2/EncryptVolume", `{"VolumeId":"vol-1","Cleanup":true}`},
		{[]string{"ec2", "create-volume", "--size", "1", "--snapshot-id", "snap-1", "--encrypted"},
			"/ec2/CreateVolume", `{"Size":1,"Encrypted":true,"SnapshotId":"snap-1"}`},
		{[]string{"ebs", "list-snapshot-blocks", "--snapshot-id", "snap-1", "--max-results", "100", "--next-token", "tok",
			"--starting-block-index", "8"},
			"/ebs/ListSnapshotBlocks", `{"SnapshotId":"snap-1","MaxResults":100,"NextToken":"tok","StartingBlockIndex":8}`},
		{[]string{"ebs", "list-snapshot-blocks", "--snapshot-id", "snap-1"}, "/ebs/ListSnapshotBlocks", `{"SnapshotId":"snap-1"}`},
		{[]string{"ebs", "list-changed-blocks", "--first-snapshot-id", "snap-1", "--second-snapshot-id", "snap-2",
			"--max-results", "1000", "--next-token", "tok", "--starting-block-index", "0"},
			"/ebs/ListChangedBlocks", `{"FirstSnapshotId":"snap-1","SecondSnapshotId":"snap-2","MaxResults":1000,"NextToken":"tok","StartingBlockIndex":0}`},
		{[]string{"kms", "schedule-key-deletion", "--key-id", "k", "--force"},
			"/kms/ScheduleKeyDeletion", `{"KeyId":"k","Force":true}`},
		{[]string{"kms", "schedule-key-deletion", "--key-id", "k", "--pending-window-in-days", "7"},
			"/kms/ScheduleKeyDeletion", `{"KeyId":"k","PendingWindowInDays":7}`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			d := newFakeDaemon(t, 200, `{}`)
			res := runAgainst(t, d, tt.args...)
			if res.code != exitOK || res.stdout != "" || res.stderr != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
			}
			got := d.only(t)
			if got.method != "POST" || got.path != tt.path || got.contentType != "application/json" {
				t.Errorf("request %s %s (%s), want POST %s", got.method, got.path, got.contentType, tt.path)
			}
			if got.body != tt.body {
				t.Errorf("body\n got %s\nwant %s", got.body, tt.body)
			}
		})
	}
}

func TestSnapshotOutput(t *testing.T) {
	tests := []struct {
		name, response string
		args           []string
		want           string
	}{
		{"describe-snapshots converts StartTime",
			`{"Snapshots":[{"SnapshotId":"snap-1","State":"completed","Progress":"100%","StartTime":1795871259}]}`,
			[]string{"ec2", "describe-snapshots", "--query", "Snapshots[0].[SnapshotId,StartTime,Progress]", "--output", "text"},
			"snap-1\t2026-11-28T13:07:39+00:00\t100%\n"},
		{"list-snapshot-blocks converts ExpiryTime",
			`{"Blocks":[{"BlockIndex":0,"BlockToken":"t0"}],"ExpiryTime":1796476059,"VolumeSize":1,"BlockSize":524288}`,
			[]string{"ebs", "list-snapshot-blocks", "--snapshot-id", "snap-1", "--query", "ExpiryTime", "--output", "text"},
			"2026-12-05T13:07:39+00:00\n"},
		{"copy-snapshot prints the new id", `{"SnapshotId":"snap-2"}`,
			[]string{"ec2", "copy-snapshot", "--source-snapshot-id", "snap-1"},
			"{\n    \"SnapshotId\": \"snap-2\"\n}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newFakeDaemon(t, 200, tt.response)
			res := runAgainst(t, d, tt.args...)
			if res.code != exitOK || res.stderr != "" || res.stdout != tt.want {
				t.Errorf("exit %d, stderr %q, stdout\n got %q\nwant %q", res.code, res.stderr, res.stdout, tt.want)
			}
		})
	}
}

// fastPolling makes waiters poll every few milliseconds; terminal says
// whether stderr counts as a terminal.
func fastPolling(terminal bool) func(*app) {
	return func(a *app) {
		a.pollInterval = 5 * time.Millisecond
		a.isTerminal = func(io.Writer) bool { return terminal }
	}
}

func runPolling(t *testing.T, d *fakeDaemon, terminal bool, args ...string) cliResult {
	t.Helper()
	return runConfigured(t, nil, fastPolling(terminal), append([]string{"--socket", d.socket}, args...)...)
}

func snapshots(states ...string) reply {
	var parts []string
	for i, s := range states {
		parts = append(parts, `{"SnapshotId":"snap-`+strconv.Itoa(i+1)+`",`+s+`}`)
	}
	return reply{200, `{"Snapshots":[` + strings.Join(parts, ",") + `]}`}
}

// checkPolls checks that every request went to path with body, and that
// there were want of them.
func checkPolls(t *testing.T, d *fakeDaemon, path, body string, want int) {
	t.Helper()
	reqs := d.all()
	if len(reqs) != want {
		t.Errorf("daemon got %d requests, want %d: %+v", len(reqs), want, reqs)
	}
	for _, r := range reqs {
		if r.path != path || r.body != body {
			t.Errorf("request %s %s, want %s %s", r.path, r.body, path, body)
		}
	}
}

func TestWaitSnapshotCompleted(t *testing.T) {
	d := newScriptedDaemon(t, map[string][]reply{"/ec2/DescribeSnapshots": {
		snapshots(`"State":"pending","Progress":"0%"`),
		snapshots(`"State":"pending","Progress":"40%"`),
		snapshots(`"State":"completed","Progress":"100%"`),
	}})
	res := runPolling(t, d, false, "ec2", "wait", "snapshot-completed", "--snapshot-ids", "snap-1")
	if res.code != exitOK || res.stdout != "" || res.stderr != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q; want 0 and no output (no bar: stderr is not a terminal)", res.code, res.stdout, res.stderr)
	}
	checkPolls(t, d, "/ec2/DescribeSnapshots", `{"SnapshotIds":["snap-1"]}`, 3)
}

func TestWaitSnapshotCompletedWaitsForAll(t *testing.T) {
	d := newScriptedDaemon(t, map[string][]reply{"/ec2/DescribeSnapshots": {
		snapshots(`"State":"completed"`, `"State":"pending","Progress":"10%"`),
		snapshots(`"State":"completed"`, `"State":"completed"`),
	}})
	res := runPolling(t, d, false, "ec2", "wait", "snapshot-completed", "--snapshot-ids", "snap-1,snap-2")
	if res.code != exitOK || res.stderr != "" {
		t.Fatalf("exit %d, stderr %q", res.code, res.stderr)
	}
	checkPolls(t, d, "/ec2/DescribeSnapshots", `{"SnapshotIds":["snap-1","snap-2"]}`, 2)
}

func TestWaitSnapshotError(t *testing.T) {
	d := newScriptedDaemon(t, map[string][]reply{"/ec2/DescribeSnapshots": {
		snapshots(`"State":"pending","Progress":"20%"`),
		snapshots(`"State":"error","StateMessage":"Given key ID is not accessible","Progress":"20%"`),
		snapshots(`"State":"completed"`),
	}})
	res := runPolling(t, d, false, "ec2", "wait", "snapshot-completed", "--snapshot-ids", "snap-1")
	want := "Waiter SnapshotCompleted failed: Given key ID is not accessible\n"
	if res.code != exitFailure || res.stdout != "" || res.stderr != want {
		t.Errorf("exit %d, stdout %q, stderr %q; want 255 and %q", res.code, res.stdout, res.stderr, want)
	}
	if n := len(d.all()); n != 2 {
		t.Errorf("%d polls, want 2 (the waiter stops at the error)", n)
	}
}

func TestWaiterFailures(t *testing.T) {
	notFound := reply{400, `{"__type":"InvalidSnapshot.NotFound","message":"The snapshot 'snap-1' does not exist."}`}
	tests := []struct {
		name   string
		script map[string][]reply
		args   []string
		want   string
	}{
		{"service error", map[string][]reply{"/ec2/DescribeSnapshots": {notFound}},
			[]string{"ec2", "wait", "snapshot-completed", "--snapshot-ids", "snap-1"},
			"Waiter SnapshotCompleted failed: An error occurred (InvalidSnapshot.NotFound) when calling the DescribeSnapshots operation: The snapshot 'snap-1' does not exist.\n"},
		{"timeout", map[string][]reply{"/ec2/DescribeSnapshots": {snapshots(`"State":"pending"`)}},
			[]string{"ec2", "wait", "snapshot-completed", "--snapshot-ids", "snap-1", "--timeout", "30ms"},
			"Waiter SnapshotCompleted failed: Max attempts exceeded (not all completed after 30ms)\n"},
		{"error without a message", map[string][]reply{"/ec2/DescribeSnapshots": {snapshots(`"State":"error"`)}},
			[]string{"ec2", "wait", "snapshot-completed"},
			"Waiter SnapshotCompleted failed: snap-1 is in the \"error\" state\n"},
		{"volume deleted", map[string][]reply{"/ec2/DescribeVolumes": {{200, `{"Volumes":[{"VolumeId":"vol-1","State":"deleted"}]}`}}},
			[]string{"ec2", "wait", "volume-in-use", "--volume-ids", "vol-1"},
			"Waiter VolumeInUse failed: vol-1 is in the \"deleted\" state\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newScriptedDaemon(t, tt.script)
			res := runPolling(t, d, false, tt.args...)
			if res.code != exitFailure || res.stdout != "" || res.stderr != tt.want {
				t.Errorf("exit %d, stdout %q, stderr\n got %q\nwant %q", res.code, res.stdout, res.stderr, tt.want)
			}
		})
	}
}

func TestWaitVolumes(t *testing.T) {
	volumes := func(state string) reply {
		return reply{200, `{"Volumes":[{"VolumeId":"vol-1","Size":1,"State":"` + state + `"}]}`}
	}
	tests := []struct {
		waiter string
		states []string
	}{
		{"volume-available", []string{"creating", "in-use", "available"}},
		{"volume-in-use", []string{"available", "available", "in-use"}},
	}
	for _, tt := range tests {
		t.Run(tt.waiter, func(t *testing.T) {
			var replies []reply
			for _, s := range tt.states {
				replies = append(replies, volumes(s))
			}
			d := newScriptedDaemon(t, map[string][]reply{"/ec2/DescribeVolumes": replies})
			res := runPolling(t, d, false, "ec2", "wait", tt.waiter, "--volume-ids", "vol-1")
			if res.code != exitOK || res.stdout != "" || res.stderr != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
			}
			checkPolls(t, d, "/ec2/DescribeVolumes", `{"VolumeIds":["vol-1"]}`, len(tt.states))
		})
	}
}

// TestWaitProgressBar checks that a terminal gets a progress bar on
// stderr, and stdout stays empty.
func TestWaitProgressBar(t *testing.T) {
	d := newScriptedDaemon(t, map[string][]reply{"/ec2/DescribeSnapshots": {
		snapshots(`"State":"pending","Progress":"50%"`),
		snapshots(`"State":"completed","Progress":"100%"`),
	}})
	res := runPolling(t, d, true, "ec2", "wait", "snapshot-completed", "--snapshot-ids", "snap-1")
	if res.code != exitOK || res.stdout != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
	}
	for _, want := range []string{"snapshot-completed", "50%", "100%"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr lacks %q: %q", want, res.stderr)
		}
	}
	if !strings.HasSuffix(res.stderr, "\n") {
		t.Errorf("the bar's line is not ended: %q", res.stderr)
	}
}

func task(state string, progress int, extra string) reply {
	return reply{200, `{"SourceVolumeId":"vol-1","SnapshotId":"snap-1","EncryptedSnapshotId":"snap-2","VolumeId":"vol-2",` +
		`"State":"` + state + `","Progress":` + strconv.Itoa(progress) + extra + `}`}
}

func TestEncryptVolumeWait(t *testing.T) {
	d := newScriptedDaemon(t, map[string][]reply{
		"/ec2/EncryptVolume":             {task("running", 0, "")},
		"/ec2/DescribeEncryptVolumeTask": {task("running", 40, ""), task("running", 80, ""), task("completed", 100, "")},
	})
	res := runPolling(t, d, false, "ec2", "encrypt-volume", "--volume-id", "vol-1", "--kms-key-id", "alias/app", "--wait",
		"--query", "[State,VolumeId]", "--output", "text")
	if res.code != exitOK || res.stderr != "" || res.stdout != "completed\tvol-2\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q; want the final task and no bar", res.code, res.stdout, res.stderr)
	}
	reqs := d.all()
	if len(reqs) != 4 {
		t.Fatalf("%d requests, want 4: %+v", len(reqs), reqs)
	}
	if reqs[0].path != "/ec2/EncryptVolume" || reqs[0].body != `{"VolumeId":"vol-1","KmsKeyId":"alias/app"}` {
		t.Errorf("first request %s %s", reqs[0].path, reqs[0].body)
	}
	for _, r := range reqs[1:] {
		if r.path != "/ec2/DescribeEncryptVolumeTask" || r.body != `{"VolumeId":"vol-1"}` {
			t.Errorf("poll %s %s, want /ec2/DescribeEncryptVolumeTask {\"VolumeId\":\"vol-1\"}", r.path, r.body)
		}
	}
}

func TestEncryptVolumeWaitFailed(t *testing.T) {
	d := newScriptedDaemon(t, map[string][]reply{
		"/ec2/EncryptVolume":             {task("running", 10, "")},
		"/ec2/DescribeEncryptVolumeTask": {task("failed", 30, `,"Message":"copy-snapshot: key alias/app is disabled"`)},
	})
	res := runPolling(t, d, false, "ec2", "encrypt-volume", "--volume-id", "vol-1", "--wait")
	if res.code != exitFailure || res.stdout != "" || !strings.Contains(res.stderr, "copy-snapshot: key alias/app is disabled") {
		t.Errorf("exit %d, stdout %q, stderr %q; want 255 and the task's Message", res.code, res.stdout, res.stderr)
	}
	if strings.Count(res.stderr, "\n") != 1 {
		t.Errorf("stderr is not one line: %q", res.stderr)
	}
}

func TestEncryptVolumeWithoutWaitDoesNotPoll(t *testing.T) {
	d := newScriptedDaemon(t, map[string][]reply{"/ec2/EncryptVolume": {task("running", 10, "")}})
	res := runPolling(t, d, true, "ec2", "encrypt-volume", "--volume-id", "vol-1", "--query", "Progress")
	if res.code != exitOK || res.stdout != "10\n" || res.stderr != "" {
		t.Errorf("exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
	}
	d.only(t)
}

func TestEncryptVolumeWaitAlreadyDone(t *testing.T) {
	for _, state := range []string{"completed", "cleaned-up"} {
		d := newScriptedDaemon(t, map[string][]reply{"/ec2/EncryptVolume": {task(state, 100, "")}})
		res := runPolling(t, d, false, "ec2", "encrypt-volume", "--volume-id", "vol-1", "--wait", "--query", "State", "--output", "text")
		if res.code != exitOK || res.stdout != state+"\n" || res.stderr != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", state, res.code, res.stdout, res.stderr)
		}
		d.only(t)
	}
}

func TestEncryptVolumeProgressBar(t *testing.T) {
	d := newScriptedDaemon(t, map[string][]reply{
		"/ec2/EncryptVolume":             {task("running", 0, "")},
		"/ec2/DescribeEncryptVolumeTask": {task("running", 60, ""), task("completed", 100, "")},
	})
	res := runPolling(t, d, true, "ec2", "encrypt-volume", "--volume-id", "vol-1", "--wait", "--query", "VolumeId", "--output", "text")
	if res.code != exitOK || res.stdout != "vol-2\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
	}
	for _, want := range []string{"encrypting vol-1", "60%", "100%"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr lacks %q: %q", want, res.stderr)
		}
	}
}

func TestEncryptVolumeWaitTimeout(t *testing.T) {
	d := newScriptedDaemon(t, map[string][]reply{
		"/ec2/EncryptVolume":             {task("running", 0, "")},
		"/ec2/DescribeEncryptVolumeTask": {task("running", 5, "")},
	})
	res := runPolling(t, d, false, "ec2", "encrypt-volume", "--volume-id", "vol-1", "--wait", "--timeout", "30ms")
	if res.code != exitFailure || res.stdout != "" || !strings.Contains(res.stderr, "still running after 30ms") {
		t.Errorf("exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
	}
}

func TestSnapshotUsageErrorsSendNothing(t *testing.T) {
	tests := [][]string{
		{"ec2", "create-snapshot"},
		{"ec2", "delete-snapshot"},
		{"ec2", "copy-snapshot", "--kms-key-id", "k"},
		{"ec2", "rewrap-snapshot", "--snapshot-id", "snap-1"},
		{"ec2", "describe-snapshots", "--filters", "Nom=volume-id,Values=vol-1"},
		{"ec2", "encrypt-volume"},
		{"ec2", "encrypt-volume", "--volume-id", "vol-1", "--wait", "--timeout", "soon"},
		{"ec2", "encrypt-volume", "--volume-id", "vol-1", "--timeout", "1h"},
		{"ec2", "wait", "snapshot-finished"},
		{"ec2", "wait", "snapshot-completed", "--timeout", "0s"},
		{"ec2", "wait", "snapshot-completed", "--timeout", "soon"},
		{"ec2", "wait", "volume-available", "vol-1"},
		{"ebs", "list-snapshot-blocks"},
		{"ebs", "list-changed-blocks", "--first-snapshot-id", "snap-1"},
		{"ebs", "list-snapshot-blocks", "--snapshot-id", "snap-1", "--max-results", "many"},
	}
	for _, args := range tests {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			d := newFakeDaemon(t, 200, `{}`)
			res := runAgainst(t, d, args...)
			if res.code != exitUsage || !strings.HasPrefix(res.stderr, "ebs: error: ") {
				t.Errorf("exit %d, stderr %q; want 252 and a usage error", res.code, res.stderr)
			}
			if n := len(d.all()); n != 0 {
				t.Errorf("a usage error sent %d requests", n)
			}
		})
	}
}

func TestSnapshotHelp(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"ec2", "copy-snapshot", "--help"}, []string{"NEW data key", "rewrap-snapshot", "exposed", "Examples:"}},
		{[]string{"ec2", "rewrap-snapshot", "--help"}, []string{"ReEncrypt", "retire or restrict the old KMS key",
			"copy-snapshot --encrypted --kms-key-id", "metadata only", "Examples:"}},
		{[]string{"ec2", "encrypt-volume", "--help"}, []string{"create-snapshot", "copy-snapshot", "--encrypted",
			"create-volume --snapshot-id", "untouched", "resumes", "--cleanup", "--wait", "Examples:"}},
		{[]string{"ec2", "wait", "snapshot-completed", "--help"}, []string{"--snapshot-ids", "--timeout", "Examples:"}},
		{[]string{"ec2", "wait", "volume-available", "--help"}, []string{"--volume-ids", "Examples:"}},
		{[]string{"ec2", "wait", "volume-in-use", "--help"}, []string{"--volume-ids", "Examples:"}},
		{[]string{"ec2", "wait", "--help"}, []string{"snapshot-completed", "volume-available", "volume-in-use", "Examples:"}},
		{[]string{"ebs", "list-changed-blocks", "--help"}, []string{"--first-snapshot-id", "--second-snapshot-id", "Examples:"}},
		{[]string{"kms", "schedule-key-deletion", "--help"}, []string{"--force", "still protects volumes or snapshots", "Examples:"}},
		{[]string{"ec2"}, []string{"create-snapshot", "encrypt-volume", "rewrap-snapshot", "wait"}},
		{[]string{"ebs"}, []string{"list-snapshot-blocks", "list-changed-blocks"}},
	}
	for _, tt := range tests {
		res := runCLI(t, nil, tt.args...)
		if res.code != exitOK {
			t.Errorf("%v: exit %d, stderr %q", tt.args, res.code, res.stderr)
		}
		for _, want := range tt.want {
			if !strings.Contains(res.stdout, want) {
				t.Errorf("%v: help lacks %q:\n%s", tt.args, want, res.stdout)
			}
		}
	}
}

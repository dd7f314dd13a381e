package crashfs

import (
	"os"
	"slices"
	"testing"
)

// TestNewEntriesNeedDirectorySync: a file created and fsynced disappears
// unless its directory was fsynced too; so does a tree made by mkdir -p
// whose top was never synced in its parent, whatever was synced inside it.
func TestNewEntriesNeedDirectorySync(t *testing.T) {
	e := mount(t, durable(map[string][]byte{"sub/old": nil}))
	e.write("sub/lost", 0, []byte("fsynced, name not"), true)
	e.write("kept", 0, []byte("fsynced, name too"), true)
	e.syncDir(".")
	e.write("late", 0, []byte("created after the dir sync"), true)
	if err := os.MkdirAll(e.p("a/b"), 0o755); err != nil {
		t.Fatal(err)
	}
	e.write("a/b/f", 0, []byte("deep"), true)
	e.syncDir("a/b")
	e.syncDir("a") // but not "." where a's own entry is

	r := e.cut()
	e.want("kept", []byte("fsynced, name too"))
	e.wantGone("sub/lost")
	e.want("sub/old", nil)
	e.wantGone("late")
	e.wantGone("a")
	if want := []string{"a", "late", "sub/lost"}; !slices.Equal(r.Removed, want) {
		t.Errorf("removed %v, want %v", r.Removed, want)
	}
	names, err := os.ReadDir(e.mnt)
	if err != nil || len(names) != 2 {
		t.Fatalf("root after the cut: %v %v (the graveyard must not show)", names, err)
	}
}

// TestRemovedEntriesComeBack: unlink, rmdir and a rename over a file come
// back after a cut unless the directory was fsynced after them; synced, they
// stay done.
func TestRemovedEntriesComeBack(t *testing.T) {
	e := mount(t, durable(map[string][]byte{
		"gone":           []byte("unlinked, not synced"),
		"really-gone":    []byte("unlinked and synced"),
		"keys.json":      []byte("old keys"),
		"dir/keys.json":  []byte("old keys"),
		"empty/.keep":    nil,
		"hard/original":  []byte("two names"),
		"other/move-me":  []byte("renamed across dirs"),
		"other/sync-src": []byte("renamed, both synced"),
	}))
	for _, rel := range []string{"gone", "really-gone", "empty/.keep"} {
		if err := os.Remove(e.p(rel)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Remove(e.p("empty")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(e.p("hard/original"), e.p("hard/link")); err != nil {
		t.Fatal(err)
	}
	// The temp-file-and-rename of a config file, in two dirs: "." is never
	// synced after the rename, "dir" is.
	for _, d := range []string{".", "dir"} {
		e.write(d+"/keys.tmp", 0, []byte("new keys"), true)
		if err := os.Rename(e.p(d, "keys.tmp"), e.p(d, "keys.json")); err != nil {
			t.Fatal(err)
		}
	}
	e.syncDir("dir")
	if err := os.Rename(e.p("other/move-me"), e.p("moved")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(e.p("other/sync-src"), e.p("dir/sync-dst")); err != nil {
		t.Fatal(err)
	}
	e.syncDir("dir")
	e.syncDir("other")
	e.wantGone("other/move-me")

	e.cut()
	e.want("gone", []byte("unlinked, not synced"))
	e.want("really-gone", []byte("unlinked and synced"))
	e.want("empty/.keep", nil)
	e.want("keys.json", []byte("old keys"))
	e.wantGone("keys.tmp")
	e.want("dir/keys.json", []byte("new keys"))
	e.wantGone("dir/keys.tmp")
	e.wantGone("hard/link")
	e.want("hard/original", []byte("two names"))
	e.wantGone("other/move-me") // other was synced without it
	e.wantGone("moved")         // "." was not synced with it: the file is lost
	e.want("dir/sync-dst", []byte("renamed, both synced"))
	e.wantGone("other/sync-src")

	if err := os.Remove(e.p("really-gone")); err != nil {
		t.Fatal(err)
	}
	e.syncDir(".")
	e.cut()
	e.wantGone("really-gone")
}

// TestJournaled: with Journaled, an fsync of any file makes every
// namespace change and every size set by truncate or fallocate before it
// durable (not those after it, nor the data).
func TestJournaled(t *testing.T) {
	e := mount(t, durable(map[string][]byte{"gone": []byte("x")}))
	e.fs.journal = true
	if err := os.MkdirAll(e.p("a/b"), 0o755); err != nil {
		t.Fatal(err)
	}
	e.write("a/b/f", 0, []byte("created, not synced"), false)
	if err := os.Remove(e.p("gone")); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(e.p("a/b/f"), 3*pageSize+10); err != nil { // takes in the written page 0
		t.Fatal(err)
	}
	e.write("other", 0, []byte("fsynced"), true) // commits the metadata so far
	e.write("late", 0, []byte("after the commit"), false)
	if err := os.Truncate(e.p("other"), 1); err != nil { // after the commit
		t.Fatal(err)
	}
	e.cut()
	e.want("a/b/f", make([]byte, 3*pageSize+10)) // name and size survived, the unsynced content did not
	e.wantGone("gone")
	e.want("other", []byte("fsynced"))
	e.wantGone("late")
}

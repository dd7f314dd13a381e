package snapshot

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/ebs-dev/ebs/blockdev"
)

// A model-based test of volumes and snapshots over the real stack (embedded
// KMS, store, Manager, snapshot Service): random writes (aligned or not),
// discards, zero-ranges, syncs, attaches and detaches, snapshots of attached
// and detached volumes, snapshot deletions, volumes from snapshots (same
// key, another CMK, unencrypted to encrypted, larger), copies (same key,
// another key, unencrypted to encrypted), re-wraps, volume deletions and
// reopens of the whole stack, checked against plain byte slices. Offsets
// stay in the first region bytes of each volume so that blocks collide.

const (
	region     = 4 << 20 // the bytes of each volume the test touches
	maxVolumes = 6
	maxSnaps   = 10
)

type modelVolume struct {
	id        string
	sizeGiB   int64
	encrypted bool
	data      []byte           // the first region bytes
	v         *blockdev.Volume // nil while detached
}

type modelSnapshot struct {
	id        string
	sizeGiB   int64
	encrypted bool
	volume    string // the volume it was taken of, "" for a copy
	data      []byte
}

type model struct {
	t     *testing.T
	s     *stack
	rng   *rand.Rand
	src   *rand.ChaCha8
	keys  []string // customer managed keys; "" means the default key
	vols  []*modelVolume
	snaps []*modelSnapshot
	log   []string
	rbuf  []byte
}

// buf is a region-sized read buffer, reused (large allocations are slow
// under the race detector).
func (m *model) buf() []byte {
	if m.rbuf == nil {
		m.rbuf = make([]byte, region)
	}
	return m.rbuf
}

func TestModel(t *testing.T) {
	seeds, ops := 12, 120
	if testing.Short() {
		seeds = 3
	}
	if n, err := strconv.Atoi(os.Getenv("MODEL_SEEDS")); err == nil { // for long runs
		seeds = n
	}
	for seed := range seeds {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			runModel(t, uint64(seed), ops)
		})
	}
}

func runModel(t *testing.T, seed uint64, ops int) {
	var chachaSeed [32]byte
	chachaSeed[0] = byte(seed)
	src := rand.NewChaCha8(chachaSeed)
	m := &model{t: t, s: newStack(t), rng: rand.New(src), src: src}
	defer func() {
		if t.Failed() {
			t.Logf("seed %d, operations:\n  %s", seed, strings.Join(m.log, "\n  "))
		}
	}()
	m.keys = []string{"", m.s.createKey("model key A"), m.s.createKey("model key B")}
	m.newVolume()
	for i := 0; i < ops && !t.Failed(); i++ {
		m.step()
		if i%25 == 24 {
			m.check(fmt.Sprintf("after op %d", i))
		}
	}
	if t.Failed() {
		return
	}
	m.check("at the end")
	m.checkByRestore()
	m.deleteAll()
}

func (m *model) logf(format string, args ...any) {
	m.log = append(m.log, fmt.Sprintf(format, args...))
}

func (m *model) pick(n int) int { return m.rng.IntN(n) }

func (m *model) newVolume() {
	enc := m.pick(3) > 0
	key := ""
	if enc {
		key = m.keys[m.pick(len(m.keys))]
	}
	id := m.s.createVolume(1, enc, key)
	m.vols = append(m.vols, &modelVolume{id: id, sizeGiB: 1, encrypted: enc, data: make([]byte, region)})
	m.logf("create %s encrypted=%v key=%q", id, enc, key)
}

func (m *model) attached(mv *modelVolume) *blockdev.Volume {
	if mv.v == nil {
		mv.v = m.s.attach(mv.id)
		m.logf("attach %s", mv.id)
	}
	return mv.v
}

// span picks a byte range in the region: block aligned or not.
func (m *model) span(maxLen int) (off, n int) {
	if m.pick(2) == 0 {
		blocks := 1 + m.pick(maxLen/blockdev.BlockSize)
		off = m.pick(region/blockdev.BlockSize-blocks+1) * blockdev.BlockSize
		return off, blocks * blockdev.BlockSize
	}
	n = 1 + m.pick(maxLen)
	return m.pick(region - n + 1), n
}

func (m *model) step() {
	t := m.t
	mv := m.vols[m.pick(len(m.vols))]
	switch r := m.pick(100); {
	case r < 30:
		off, n := m.span(64 << 10)
		p := make([]byte, n)
		m.src.Read(p)
		m.logf("write %s [%d, +%d)", mv.id, off, n)
		if k, err := m.attached(mv).WriteAt(p, int64(off)); err != nil || k != n {
			t.Fatalf("write %s at %d: %d, %v", mv.id, off, k, err)
		}
		copy(mv.data[off:], p)
	case r < 40:
		off, n := m.span(128 << 10)
		v := m.attached(mv)
		var err error
		if m.pick(2) == 0 {
			m.logf("discard %s [%d, +%d)", mv.id, off, n)
			err = v.Discard(int64(off), int64(n))
		} else {
			m.logf("zero-range %s [%d, +%d)", mv.id, off, n)
			err = v.ZeroRange(int64(off), int64(n))
		}
		if err != nil {
			t.Fatal(err)
		}
		clear(mv.data[off : off+n])
	case r < 43:
		if mv.v != nil {
			m.logf("sync %s", mv.id)
			if err := mv.v.Sync(); err != nil {
				t.Fatal(err)
			}
		}
	case r < 48:
		if mv.v == nil {
			m.attached(mv)
		} else {
			m.logf("detach %s", mv.id)
			m.s.detach(mv.id)
			mv.v = nil
		}
	case r < 58:
		if len(m.snaps) >= maxSnaps {
			return
		}
		id := m.s.snapshot(mv.id)
		m.logf("snapshot %s (attached=%v) -> %s", mv.id, mv.v != nil, id)
		m.snaps = append(m.snaps, &modelSnapshot{id: id, sizeGiB: mv.sizeGiB, encrypted: mv.encrypted, volume: mv.id, data: slices.Clone(mv.data)})
	case r < 64:
		if len(m.snaps) == 0 {
			return
		}
		m.deleteSnapshot(m.pick(len(m.snaps)))
	case r < 72:
		m.volumeFromSnapshot()
	case r < 79:
		m.copySnapshot()
	case r < 82:
		m.rewrap()
	case r < 86:
		if len(m.vols) < 2 {
			return
		}
		m.deleteVolume(mv)
	case r < 90:
		if len(m.vols) < maxVolumes {
			m.newVolume()
		}
	case r < 92:
		m.reopen()
	case r < 93:
		if mv.v == nil && mv.sizeGiB < 3 {
			m.logf("grow %s to %d GiB", mv.id, mv.sizeGiB+1)
			if _, err := m.s.vols.Modify(m.s.ctx, &blockdev.ModifyVolumeInput{VolumeID: mv.id, Size: ptr(mv.sizeGiB + 1)}); err != nil {
				t.Fatal(err)
			}
			mv.sizeGiB++
		}
	default: // read back a random range
		off, n := m.span(64 << 10)
		got := make([]byte, n)
		if _, err := m.attached(mv).ReadAt(got, int64(off)); err != nil {
			t.Fatal(err)
		}
		if !sameBytes(got, mv.data[off:off+n]) {
			t.Errorf("read %s [%d, +%d): %s", mv.id, off, n, firstDiff(got, mv.data[off:off+n]))
		}
	}
}

func (m *model) deleteVolume(mv *modelVolume) {
	if mv.v != nil {
		m.s.detach(mv.id)
		mv.v = nil
	}
	m.logf("delete volume %s", mv.id)
	m.s.deleteVolume(mv.id)
	m.vols = slices.DeleteFunc(m.vols, func(v *modelVolume) bool { return v == mv })
}

// deleteSnapshot deletes m.snaps[i]; when it alone pins its view, the
// store must free exactly the UniqueSizeInBytes DescribeSnapshots gave.
func (m *model) deleteSnapshot(i int) {
	sn := m.snaps[i]
	m.s.waitNoCopies()         // a copy in flight would take slots while we count
	before := m.s.usedBlocks() // flushes: UniqueSizeInBytes reads the durable map
	described := m.s.describe(sn.id).UniqueSizeInBytes
	if described == nil {
		m.t.Fatalf("describe %s: no UniqueSizeInBytes", sn.id)
	}
	unique := *described
	r, err := m.s.snaps.get(sn.id)
	if err != nil {
		m.t.Fatal(err)
	}
	holders := m.s.holders(r.Source.Lineage, r.Source.Gen)
	last := m.s.holders(r.Source.Lineage, 0) == 1 // its lineage goes, and releases its parent's view
	m.logf("delete snapshot %s (unique %d bytes, %d holders, last pin of its lineage: %v)", sn.id, unique, holders, last)
	m.s.deleteSnapshot(sn.id)
	freed := int64(before-m.s.usedBlocks()) * blockdev.BlockSize
	switch {
	case holders == 1 && !last && freed != unique, holders == 1 && last && freed < unique:
		m.t.Errorf("deleting %s freed %d bytes; its UniqueSizeInBytes was %d", sn.id, freed, unique)
	case holders > 1 && freed != 0:
		m.t.Errorf("deleting %s, whose view %d others pin, freed %d bytes", sn.id, holders-1, freed)
	}
	m.snaps = slices.Delete(m.snaps, i, i+1)
}

func (m *model) volumeFromSnapshot() {
	if len(m.snaps) == 0 || len(m.vols) >= maxVolumes {
		return
	}
	sn := m.snaps[m.pick(len(m.snaps))]
	in := &blockdev.CreateVolumeInput{SnapshotID: sn.id}
	how := "same key"
	enc := sn.encrypted
	switch m.pick(4) {
	case 1: // another CMK (for an unencrypted snapshot: encrypt it)
		in.Encrypted, in.KmsKeyID = ptr(true), m.keys[1+m.pick(2)]
		how, enc = "key "+in.KmsKeyID, true
	case 2: // encrypted under the default key (or the snapshot's, if it has one)
		in.Encrypted = ptr(true)
		how, enc = "--encrypted", true
	case 3:
		in.Size = 2
		how = "larger"
	}
	out, err := m.s.snaps.CreateVolume(m.s.ctx, in)
	if err != nil {
		m.t.Fatalf("create volume from %s (%s): %v", sn.id, how, err)
	}
	if out.Encrypted != enc {
		m.t.Errorf("volume from %s (%s): Encrypted = %v, want %v", sn.id, how, out.Encrypted, enc)
	}
	size := sn.sizeGiB
	if in.Size > size {
		size = in.Size
	}
	if out.Size != size {
		m.t.Errorf("volume from %s (%s): Size = %d, want %d", sn.id, how, out.Size, size)
	}
	m.logf("create volume from %s (%s) -> %s", sn.id, how, out.VolumeID)
	m.vols = append(m.vols, &modelVolume{id: out.VolumeID, sizeGiB: size, encrypted: out.Encrypted, data: slices.Clone(sn.data)})
}

func (m *model) copySnapshot() {
	if len(m.snaps) == 0 || len(m.snaps) >= maxSnaps {
		return
	}
	sn := m.snaps[m.pick(len(m.snaps))]
	in := &CopySnapshotInput{SourceSnapshotID: sn.id}
	how := "same key"
	enc := sn.encrypted
	switch m.pick(3) {
	case 1:
		in.Encrypted, in.KmsKeyID = ptr(true), m.keys[1+m.pick(2)]
		how, enc = "key "+in.KmsKeyID, true
	case 2:
		in.Encrypted = ptr(true)
		how, enc = "--encrypted", true
	}
	var id string
	if m.pick(4) == 0 { // a restart while the copy runs: it resumes
		out, err := m.s.snaps.CopySnapshot(m.s.ctx, in)
		if err != nil {
			m.t.Fatalf("copy %s: %v", sn.id, err)
		}
		id = out.SnapshotID
		m.reopen()
		m.s.waitCopy(id)
		how += ", restarted"
	} else {
		id = m.s.copySnapshot(in)
	}
	d := m.s.describe(id)
	if d.Encrypted != enc {
		m.t.Errorf("copy of %s (%s): Encrypted = %v, want %v", sn.id, how, d.Encrypted, enc)
	}
	if d.VolumeSize != sn.sizeGiB {
		m.t.Errorf("copy of %s (%s): VolumeSize = %d, want %d", sn.id, how, d.VolumeSize, sn.sizeGiB)
	}
	m.logf("copy %s (%s) -> %s", sn.id, how, id)
	m.snaps = append(m.snaps, &modelSnapshot{id: id, sizeGiB: sn.sizeGiB, encrypted: enc, data: sn.data})
}

func (m *model) rewrap() {
	var encrypted []*modelSnapshot
	for _, sn := range m.snaps {
		if sn.encrypted {
			encrypted = append(encrypted, sn)
		}
	}
	if len(encrypted) == 0 {
		return
	}
	sn := encrypted[m.pick(len(encrypted))]
	key := m.keys[1+m.pick(2)]
	m.logf("rewrap %s under %s", sn.id, key)
	out, err := m.s.snaps.RewrapSnapshot(m.s.ctx, &RewrapSnapshotInput{SnapshotID: sn.id, KmsKeyID: key})
	if err != nil {
		m.t.Fatalf("rewrap %s: %v", sn.id, err)
	}
	if out.KmsKeyID != key {
		m.t.Errorf("rewrap %s: KmsKeyId = %s, want %s", sn.id, out.KmsKeyID, key)
	}
}

func (m *model) reopen() {
	m.logf("reopen")
	idle := m.s.snaps.run.copies() == 0 // else the copy writes blocks meanwhile, and resumes after
	before := m.s.usedBlocks()
	vols := m.s.reopen()
	if after := m.s.st.UsedBlocks(); idle && after != before {
		m.t.Errorf("UsedBlocks = %d after reopen, %d before", after, before)
	}
	for _, mv := range m.vols {
		was := mv.v != nil
		mv.v = vols[mv.id]
		if was != (mv.v != nil) {
			m.t.Errorf("reopen: volume %s attached before: %v, reattached: %v", mv.id, was, mv.v != nil)
		}
		delete(vols, mv.id)
	}
	for id := range vols {
		m.t.Errorf("reopen attached %s, which was not attached", id)
	}
}

// check reads every live volume and every live snapshot and compares them
// with the model, then checks the listings and the storage accounting.
func (m *model) check(when string) {
	t := m.t
	for _, mv := range m.vols {
		v, temp := mv.v, false
		if v == nil {
			v, temp = m.s.attach(mv.id), true
		}
		got := m.buf()
		readChunks(t, v, got)
		if !sameBytes(got, mv.data) {
			t.Errorf("%s: volume %s: %s", when, mv.id, firstDiff(got, mv.data))
		}
		last := make([]byte, 4096)
		if n, err := v.ReadAt(last, mv.sizeGiB<<30-4096); err != nil || n != 4096 || !sameBytes(last, make([]byte, 4096)) {
			t.Errorf("%s: volume %s: the last block reads %d bytes, %v, or not zeros", when, mv.id, n, err)
		}
		if _, err := v.ReadAt(last, mv.sizeGiB<<30); err != io.EOF {
			t.Errorf("%s: volume %s: read at the end: %v, want EOF", when, mv.id, err)
		}
		if temp {
			m.s.detach(mv.id)
		}
	}
	for _, sn := range m.snaps {
		d := m.s.describe(sn.id)
		if d.State != stateCompleted || d.Encrypted != sn.encrypted || d.VolumeSize != sn.sizeGiB {
			t.Errorf("%s: snapshot %s: state %s, encrypted %v, size %d; want completed, %v, %d", when, sn.id, d.State, d.Encrypted, d.VolumeSize, sn.encrypted, sn.sizeGiB)
		}
		if got := m.s.readSnapshot(sn.id, m.buf()); !sameBytes(got, sn.data) {
			t.Errorf("%s: snapshot %s: %s", when, sn.id, firstDiff(got, sn.data))
		}
		m.checkListSnapshotBlocks(when, sn)
	}
	m.checkChangedBlocks(when)
	m.s.checkAccounting(when)
}

var zeroDirectBlock = make([]byte, directBlockSize)

// dataBlocks is the set of 512 KiB blocks of data that hold a non-zero byte.
func dataBlocks(data []byte) map[int64]bool {
	out := map[int64]bool{}
	for i := 0; i < len(data); i += directBlockSize {
		if !sameBytes(data[i:i+directBlockSize], zeroDirectBlock) {
			out[int64(i/directBlockSize)] = true
		}
	}
	return out
}

// checkListSnapshotBlocks: every 512 KiB block holding data is listed (a
// listed block may read as zeros: it was zeroed in part, not discarded).
func (m *model) checkListSnapshotBlocks(when string, sn *modelSnapshot) {
	out, err := m.s.snaps.ListSnapshotBlocks(m.s.ctx, &ListSnapshotBlocksInput{SnapshotID: sn.id})
	if err != nil {
		m.t.Fatal(err)
	}
	listed := map[int64]bool{}
	for _, b := range out.Blocks {
		listed[b.BlockIndex] = true
	}
	for i := range dataBlocks(sn.data) {
		if !listed[i] {
			m.t.Errorf("%s: ListSnapshotBlocks(%s) misses block %d, which holds data", when, sn.id, i)
		}
	}
}

// checkChangedBlocks: for a pair of snapshots, every 512 KiB block whose
// contents differ must be listed as changed (a backup built on the list
// would otherwise miss data).
func (m *model) checkChangedBlocks(when string) {
	if len(m.snaps) < 2 {
		return
	}
	a, b := m.snaps[m.pick(len(m.snaps))], m.snaps[m.pick(len(m.snaps))]
	if a == b || a.sizeGiB != b.sizeGiB {
		return
	}
	out, err := m.s.snaps.ListChangedBlocks(m.s.ctx, &ListChangedBlocksInput{FirstSnapshotID: a.id, SecondSnapshotID: b.id})
	if isKind(err, ErrValidation) {
		return // unrelated snapshots (another data key or lineage): AWS refuses to compare them too
	}
	if err != nil {
		m.t.Fatal(err)
	}
	listed := map[int64]bool{}
	for _, c := range out.ChangedBlocks {
		listed[c.BlockIndex] = true
	}
	var missed []int
	for i := 0; i < region; i += directBlockSize {
		if !sameBytes(a.data[i:i+directBlockSize], b.data[i:i+directBlockSize]) && !listed[int64(i/directBlockSize)] {
			missed = append(missed, i/directBlockSize)
		}
	}
	if len(missed) > 0 {
		m.t.Errorf("%s: ListChangedBlocks(%s, %s) misses blocks %v, which differ", when, a.id, b.id, missed)
	}
}

// checkByRestore reads every snapshot through a volume made from it.
func (m *model) checkByRestore() {
	for _, sn := range m.snaps {
		if got := m.s.restore(sn.id, m.buf()); !sameBytes(got, sn.data) {
			m.t.Errorf("volume restored from %s: %s", sn.id, firstDiff(got, sn.data))
		}
	}
}

// deleteAll deletes every volume and snapshot: nothing may stay stored.
func (m *model) deleteAll() {
	for len(m.vols) > 0 {
		m.deleteVolume(m.vols[0])
	}
	for len(m.snaps) > 0 {
		m.deleteSnapshot(len(m.snaps) - 1)
	}
	if used := m.s.usedBlocks(); used != 0 {
		slots, keys := m.s.mappedSlots()
		m.t.Errorf("UsedBlocks = %d after deleting every volume and snapshot, want 0 (map: %d slots; keys left: %s)", used, slots, keyCounts(keys))
	} else if _, keys := m.s.mappedSlots(); len(keys) > 0 {
		m.t.Errorf("store keys left after deleting every volume and snapshot: %s", keyCounts(keys))
	}
}

func keyCounts(keys map[byte]int) string {
	var out []string
	for p, n := range keys {
		out = append(out, fmt.Sprintf("%q: %d", p, n))
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

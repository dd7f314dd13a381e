package policy

import "unicode/utf8"

// globSet matches a string against a set of wildcard patterns at once. In a
// pattern, * matches any run of characters (none included) and ? exactly one
// character; characters are runes, compared exactly.
//
// It runs the patterns' automaton bit-parallel (the Shift-And method, with a
// self-loop on every state a star follows): one bit per state, where a
// pattern of k non-star characters has k+1 states. Each rune of the string
// costs one pass over the state words, whatever the patterns hold, so a match
// takes O(runes(s) × ⌈states/64⌉) time and never backtracks; it stops early
// when no state is left alive. Memory: one mask of ⌈states/64⌉ words per
// distinct pattern character, plus one.
type globSet struct {
	words int
	init  []uint64 // the start state of every pattern
	loop  []uint64 // the states a star follows: they stay on any character
	final []uint64 // the accepting state of every pattern
	rows  [][]uint64
	ascii [128]int32 // an ASCII character's row; row 0 is every other character's
	runes map[rune]int32
	flat  []uint64 // rows[i][0] when the states fit in one word
}

func newGlobSet(patterns []string) *globSet {
	states := 0
	for _, p := range patterns {
		states++
		for _, r := range p {
			if r != '*' {
				states++
			}
		}
	}
	g := &globSet{words: (states + 63) / 64}
	g.init, g.loop, g.final = g.newRow(), g.newRow(), g.newRow()
	g.rows = [][]uint64{g.newRow()}
	var anyChar []int // states entered by a ?
	next := 0
	for _, p := range patterns {
		state := next
		setBit(g.init, state)
		for _, r := range p {
			switch r {
			case '*':
				setBit(g.loop, state)
				continue
			case '?':
				anyChar = append(anyChar, state+1)
			default:
				setBit(g.row(r, true), state+1)
			}
			state++
		}
		setBit(g.final, state)
		next = state + 1
	}
	for _, row := range g.rows {
		for _, s := range anyChar {
			setBit(row, s)
		}
		if g.words == 1 {
			g.flat = append(g.flat, row[0])
		}
	}
	return g
}

func (g *globSet) newRow() []uint64 { return make([]uint64, g.words) }

func setBit(row []uint64, i int) { row[i/64] |= 1 << (i % 64) }

// row returns the mask of the states character r advances into; add makes
// a row for a character seen the first time.
func (g *globSet) row(r rune, add bool) []uint64 {
	var i int32
	var ok bool
	if r >= 0 && r < 128 {
		i, ok = g.ascii[r], g.ascii[r] != 0
	} else {
		i, ok = g.runes[r]
	}
	if ok || !add {
		return g.rows[i]
	}
	i = int32(len(g.rows))
	g.rows = append(g.rows, g.newRow())
	if r >= 0 && r < 128 {
		g.ascii[r] = i
	} else {
		if g.runes == nil {
			g.runes = map[rune]int32{}
		}
		g.runes[r] = i
	}
	return g.rows[i]
}

// match reports whether s matches any pattern of the set. buf is scratch
// space, reused when it is large enough.
func (g *globSet) match(s string, buf *[]uint64) bool {
	switch {
	case g == nil || g.words == 0:
		return false
	case g.words == 1:
		return g.match1(s)
	}
	if cap(*buf) < g.words {
		*buf = make([]uint64, g.words)
	}
	d := (*buf)[:g.words]
	copy(d, g.init)
	loop := g.loop[:len(d)]
	// Bits only move up, so a step reaches at most one word above the
	// highest live one: only the words up to hi+1 need a pass.
	hi := len(d) - 1
	for hi > 0 && d[hi] == 0 {
		hi--
	}
	for i := 0; i < len(s); {
		row, n := g.next(s, i)
		i += n
		end := min(hi+2, len(d))
		row, dw, lw := row[:end], d[:end], loop[:end]
		var carry, alive uint64
		for w, x := range dw {
			y := (x<<1|carry)&row[w] | x&lw[w]
			carry = x >> 63
			dw[w] = y
			alive |= y
		}
		if alive == 0 {
			return false
		}
		if end > hi+1 && dw[end-1] != 0 {
			hi = end - 1
		}
	}
	for w := 0; w <= hi; w++ {
		if d[w]&g.final[w] != 0 {
			return true
		}
	}
	return false
}

// match1 is match for a set whose states fit in one word.
func (g *globSet) match1(s string) bool {
	d, loop, flat := g.init[0], g.loop[0], g.flat
	for i := 0; i < len(s); i++ {
		var m uint64
		if c := s[i]; c < utf8.RuneSelf {
			m = flat[g.ascii[c]]
		} else {
			r, n := utf8.DecodeRuneInString(s[i:])
			m = g.row(r, false)[0]
			i += n - 1
		}
		d = (d<<1)&m | d&loop
		if d == 0 {
			return false
		}
	}
	return d&g.final[0] != 0
}

// next returns the row of the character at s[i] and its length in bytes.
func (g *globSet) next(s string, i int) ([]uint64, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return g.rows[g.ascii[c]], 1
	}
	r, n := utf8.DecodeRuneInString(s[i:])
	return g.row(r, false), n
}

// hasWildcard reports whether a pattern holds * or ?.
func hasWildcard(p string) bool {
	for i := 0; i < len(p); i++ {
		if p[i] == '*' || p[i] == '?' {
			return true
		}
	}
	return false
}

package main

import (
	"fmt"
	"strings"
)

// The AWS CLI's shorthand syntax, enough of it for this CLI:
//
//	parameter = keyval *("," keyval)
//	keyval    = key "=" values
//	values    = "[" [value *("," value)] "]"   an explicit list
//	          | "{" keyval *("," keyval) "}"   a nested structure or map
//	          | value *("," value)             an implicit list: Values=a,b,c
//	value     = 'single quoted' | "double quoted" | unquoted text
//
// Unquoted text ends at ',' (and at '}' or ']' inside braces or brackets);
// it may contain '=' (base64 padding). A comma ends a value and starts the
// next keyval when what follows looks like "key="; otherwise it continues
// an implicit list.

// parseShorthand parses s into an object whose values are strings, []any
// and objects.
func parseShorthand(s string) (object, error) {
	p := &shorthandParser{s: s}
	obj, err := p.keyvals(0)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if !p.eof() {
		return nil, p.errorf("unexpected %q", p.peek())
	}
	return obj, nil
}

type shorthandParser struct {
	s   string
	pos int
}

func (p *shorthandParser) eof() bool { return p.pos >= len(p.s) }

func (p *shorthandParser) peek() byte {
	if p.eof() {
		return 0
	}
	return p.s[p.pos]
}

func (p *shorthandParser) skipSpace() {
	for !p.eof() && (p.peek() == ' ' || p.peek() == '\t' || p.peek() == '\n') {
		p.pos++
	}
}

func (p *shorthandParser) errorf(format string, args ...any) error {
	return fmt.Errorf("%s at position %d of %q", fmt.Sprintf(format, args...), p.pos, p.s)
}

func (p *shorthandParser) expect(c byte) error {
	p.skipSpace()
	if p.peek() != c {
		if p.eof() {
			return p.errorf("expected %q, found the end of the input", c)
		}
		return p.errorf("expected %q, found %q", c, p.peek())
	}
	p.pos++
	return nil
}

// keyvals parses key=value pairs until the end of the input, or until
// the closing brace when close is '}'.
func (p *shorthandParser) keyvals(close byte) (object, error) {
	obj := object{}
	for {
		key, err := p.key()
		if err != nil {
			return nil, err
		}
		if err := p.expect('='); err != nil {
			return nil, err
		}
		v, err := p.values(close)
		if err != nil {
			return nil, err
		}
		if _, dup := obj.get(key); dup {
			return nil, p.errorf("key %q given twice", key)
		}
		obj.set(key, v)
		p.skipSpace()
		if p.eof() || p.peek() == close {
			return obj, nil
		}
		if err := p.expect(','); err != nil {
			return nil, err
		}
	}
}

func (p *shorthandParser) key() (string, error) {
	start := p.pos
	for !p.eof() && !strings.ContainsRune("=,{}[]", rune(p.peek())) {
		p.pos++
	}
	key := strings.TrimSpace(p.s[start:p.pos])
	if key == "" {
		return "", p.errorf("expected a key")
	}
	return key, nil
}

// values parses what follows "key=".
func (p *shorthandParser) values(close byte) (any, error) {
	p.skipSpace()
	switch p.peek() {
	case '[':
		return p.list()
	case '{':
		return p.hash()
	}
	first, err := p.value(close)
	if err != nil {
		return nil, err
	}
	if p.peek() != ',' || p.nextIsKey() {
		return first, nil
	}
	list := []any{first}
	for p.peek() == ',' && !p.nextIsKey() {
		p.pos++
		v, err := p.value(close)
		if err != nil {
			return nil, err
		}
		list = append(list, v)
	}
	return list, nil
}

// nextIsKey reports whether the text after the comma at pos is "key=".
func (p *shorthandParser) nextIsKey() bool {
	rest := p.s[p.pos+1:]
	i := strings.IndexAny(rest, "=,{}[]'\"")
	return i > 0 && rest[i] == '=' && strings.TrimSpace(rest[:i]) != ""
}

func (p *shorthandParser) hash() (object, error) {
	p.pos++ // '{'
	p.skipSpace()
	if p.peek() == '}' {
		p.pos++
		return object{}, nil
	}
	obj, err := p.keyvals('}')
	if err != nil {
		return nil, err
	}
	return obj, p.expect('}')
}

func (p *shorthandParser) list() ([]any, error) {
	p.pos++ // '['
	list := []any{}
	p.skipSpace()
	if p.peek() == ']' {
		p.pos++
		return list, nil
	}
	for {
		var v any
		var err error
		p.skipSpace()
		switch p.peek() {
		case '{':
			v, err = p.hash()
		case '[':
			v, err = p.list()
		default:
			v, err = p.value(']')
		}
		if err != nil {
			return nil, err
		}
		list = append(list, v)
		p.skipSpace()
		if p.peek() == ']' {
			p.pos++
			return list, nil
		}
		if err := p.expect(','); err != nil {
			return nil, err
		}
	}
}

// value parses one quoted or unquoted scalar.
func (p *shorthandParser) value(close byte) (string, error) {
	p.skipSpace()
	if q := p.peek(); q == '\'' || q == '"' {
		return p.quoted(q)
	}
	start := p.pos
	for !p.eof() && p.peek() != ',' && (close == 0 || p.peek() != close) {
		if c := p.peek(); c == '{' || c == '[' || (c == '}' || c == ']') && close == 0 {
			return "", p.errorf("unexpected %q in a value (quote the value to use it)", c)
		}
		p.pos++
	}
	return strings.TrimSpace(p.s[start:p.pos]), nil
}

func (p *shorthandParser) quoted(q byte) (string, error) {
	p.pos++
	var b strings.Builder
	for !p.eof() {
		c := p.peek()
		p.pos++
		switch {
		case c == '\\' && !p.eof() && (p.peek() == q || p.peek() == '\\'):
			b.WriteByte(p.peek())
			p.pos++
		case c == q:
			p.skipSpace()
			return b.String(), nil
		default:
			b.WriteByte(c)
		}
	}
	return "", p.errorf("unterminated %c-quoted value", q)
}

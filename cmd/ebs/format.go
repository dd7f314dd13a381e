package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/jmespath/go-jmespath"
)

// Output formats accepted by --output.
const (
	formatJSON  = "json"
	formatText  = "text"
	formatTable = "table"
)

// printer turns a response body into what the user sees.
type printer struct {
	format string         // formatJSON, formatText or formatTable
	query  *query         // nil without --query
	loc    *time.Location // the zone timestamps are printed in
	out    io.Writer
}

// print decodes raw (keeping key order), converts timestamps, applies
// --query and writes the result in the chosen format. operation titles the
// table.
func (p *printer) print(operation string, raw json.RawMessage) error {
	doc, err := decodeOrdered(raw)
	if err != nil {
		return fmt.Errorf("decode %s response: %w", operation, err)
	}
	doc = convertTimestamps(doc, p.loc)
	if p.query != nil {
		if doc, err = p.query.apply(doc); err != nil {
			return err
		}
	}
	switch p.format {
	case formatText:
		err = writeText(p.out, doc)
	case formatTable:
		err = writeTable(p.out, operation, doc)
	default:
		err = writeJSON(p.out, doc)
	}
	if err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// query is a compiled --query JMESPath expression.
type query struct {
	expr string
	jp   *jmespath.JMESPath
}

// compileQuery parses expr; a bad expression is a usage error.
func compileQuery(expr string) (*query, error) {
	jp, err := jmespath.Compile(expr)
	if err != nil {
		return nil, usageErrorf("Bad value for --query %s: %w", expr, err)
	}
	return &query{expr: expr, jp: jp}, nil
}

// apply searches doc. JMESPath works on Go maps, which have no order, so
// the objects of the result are put back in order: keys in the order they
// first appear in doc, then keys made by the expression (multiselect
// hashes) in the order they appear in it.
func (q *query) apply(doc any) (any, error) {
	res, err := q.jp.Search(toGeneric(doc))
	if err != nil {
		return nil, fmt.Errorf("--query %s: %w", q.expr, err)
	}
	ranks := map[string]int{}
	collectKeyRanks(doc, ranks)
	return fromGeneric(res, q.rank(ranks)), nil
}

func (q *query) rank(ranks map[string]int) func(string) int {
	return func(key string) int {
		if r, ok := ranks[key]; ok {
			return r
		}
		if i := strings.Index(q.expr, key); i >= 0 {
			return len(ranks) + i
		}
		return math.MaxInt
	}
}

func collectKeyRanks(v any, ranks map[string]int) {
	switch t := v.(type) {
	case object:
		for _, m := range t {
			if _, ok := ranks[m.Key]; !ok {
				ranks[m.Key] = len(ranks)
			}
			collectKeyRanks(m.Value, ranks)
		}
	case []any:
		for _, e := range t {
			collectKeyRanks(e, ranks)
		}
	}
}

// toGeneric converts an ordered document to what go-jmespath expects.
func toGeneric(v any) any {
	switch t := v.(type) {
	case object:
		m := make(map[string]any, len(t))
		for _, e := range t {
			m[e.Key] = toGeneric(e.Value)
		}
		return m
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = toGeneric(e)
		}
		return out
	case json.Number:
		if f, err := t.Float64(); err == nil {
			return f
		}
		return string(t)
	}
	return v
}

// fromGeneric converts a JMESPath result back, ordering object keys by rank.
func fromGeneric(v any, rank func(string) int) any {
	switch t := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			ri, rj := rank(keys[i]), rank(keys[j])
			if ri != rj {
				return ri < rj
			}
			return keys[i] < keys[j]
		})
		obj := make(object, 0, len(keys))
		for _, k := range keys {
			obj = append(obj, member{k, fromGeneric(t[k], rank)})
		}
		return obj
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = fromGeneric(e, rank)
		}
		return out
	}
	return v
}

// writeText prints v as the AWS CLI's --output text does (awscli/text.py):
// a scalar on its own line; the scalar members of an object on one
// tab-separated line in key order, then its lists and objects, each
// prefixed with its upper-cased key; a list of scalars on one line.
func writeText(w io.Writer, v any) error {
	var b strings.Builder
	textValue(&b, v, "", nil)
	_, err := io.WriteString(w, b.String())
	return err
}

func textValue(b *strings.Builder, v any, ident string, scalarKeys []string) {
	switch t := v.(type) {
	case object:
		formatTextObject(b, t, ident, scalarKeys)
	case []any:
		formatTextList(b, t, ident)
	default:
		b.WriteString(textScalar(v) + "\n")
	}
}

func formatTextObject(b *strings.Builder, o object, ident string, scalarKeys []string) {
	var scalars []string
	var nested []member
	if scalarKeys == nil {
		for _, m := range sortedMembers(o) {
			if isScalar(m.Value) {
				scalars = append(scalars, textScalar(m.Value))
			} else {
				nested = append(nested, m)
			}
		}
	} else {
		for _, k := range scalarKeys {
			v, ok := o.get(k)
			if !ok {
				v = ""
			}
			scalars = append(scalars, textScalar(v))
		}
		for _, m := range sortedMembers(o) {
			if !contains(scalarKeys, m.Key) {
				nested = append(nested, m)
			}
		}
	}
	if len(scalars) > 0 {
		if ident != "" {
			scalars = append([]string{strings.ToUpper(ident)}, scalars...)
		}
		b.WriteString(strings.Join(scalars, "\t") + "\n")
	}
	for _, m := range nested {
		textValue(b, m.Value, m.Key, nil)
	}
}

func formatTextList(b *strings.Builder, l []any, ident string) {
	var scalars, nested []any
	hasObject := false
	for _, e := range l {
		if isScalar(e) {
			scalars = append(scalars, e)
		} else {
			nested = append(nested, e)
		}
		_, isObj := e.(object)
		hasObject = hasObject || isObj
	}
	if hasObject {
		keys := scalarKeysOf(l)
		for _, e := range l {
			textValue(b, e, ident, keys)
		}
		return
	}
	if len(scalars) > 0 {
		formatTextScalars(b, scalars, ident)
	}
	for _, e := range nested {
		textValue(b, e, ident, nil)
	}
}

func formatTextScalars(b *strings.Builder, l []any, ident string) {
	if ident != "" {
		for _, e := range l {
			b.WriteString(strings.ToUpper(ident) + "\t" + textScalar(e) + "\n")
		}
		return
	}
	parts := make([]string, len(l))
	for i, e := range l {
		parts[i] = textScalar(e)
	}
	b.WriteString(strings.Join(parts, "\t") + "\n")
}

// scalarKeysOf returns the sorted keys that hold a scalar in any object of l.
func scalarKeysOf(l []any) []string {
	seen := map[string]bool{}
	keys := []string{}
	for _, e := range l {
		o, _ := e.(object)
		for _, m := range o {
			if isScalar(m.Value) && !seen[m.Key] {
				seen[m.Key] = true
				keys = append(keys, m.Key)
			}
		}
	}
	sort.Strings(keys)
	return keys
}

func sortedMembers(o object) []member {
	s := append([]member(nil), o...)
	sort.SliceStable(s, func(i, j int) bool { return s[i].Key < s[j].Key })
	return s
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func isScalar(v any) bool {
	switch v.(type) {
	case object, []any:
		return false
	}
	return true
}

// textScalar is Python's str() of a JSON scalar, as the AWS CLI prints it.
func textScalar(v any) string {
	switch t := v.(type) {
	case nil:
		return "None"
	case bool:
		if t {
			return "True"
		}
		return "False"
	case string:
		return t
	case json.Number:
		return string(t)
	case float64:
		return formatFloat(t)
	}
	return fmt.Sprint(v)
}

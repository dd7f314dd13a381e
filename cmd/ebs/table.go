package main

import (
	"io"
	"strings"
	"unicode/utf8"
)

// --output table draws boxed sections in the spirit of the AWS CLI's: the
// operation name is the title; an object is a section of key/value rows
// (in the daemon's key order) followed by a nested, further indented
// section per member that is an object or a list; a list of flat objects
// is one grid with a header row. Every section has the same outer width.

// tableSection is one titled box.
type tableSection struct {
	title  string
	indent int
	header []string
	rows   [][]string
}

// writeTable prints v under title; an empty result prints nothing.
func writeTable(w io.Writer, title string, v any) error {
	if isEmptyValue(v) {
		return nil
	}
	var secs []tableSection
	buildTable(&secs, title, v, 0)
	_, err := io.WriteString(w, renderTable(secs))
	return err
}

func isEmptyValue(v any) bool {
	switch t := v.(type) {
	case nil:
		return true
	case object:
		return len(t) == 0
	case []any:
		return len(t) == 0
	case string:
		return t == ""
	}
	return false
}

func buildTable(secs *[]tableSection, title string, v any, indent int) {
	switch t := v.(type) {
	case object:
		buildTableObject(secs, title, t, indent)
	case []any:
		buildTableList(secs, title, t, indent)
	default:
		*secs = append(*secs, tableSection{title: title, indent: indent, rows: [][]string{{cell(v)}}})
	}
}

func buildTableObject(secs *[]tableSection, title string, o object, indent int) {
	sec := tableSection{title: title, indent: indent}
	var nested []member
	for _, m := range o {
		if isScalar(m.Value) {
			sec.rows = append(sec.rows, []string{m.Key, cell(m.Value)})
		} else if !isEmptyValue(m.Value) {
			nested = append(nested, m)
		}
	}
	*secs = append(*secs, sec)
	for _, m := range nested {
		buildTable(secs, m.Key, m.Value, indent+1)
	}
}

func buildTableList(secs *[]tableSection, title string, l []any, indent int) {
	if header, ok := flatObjectsHeader(l); ok {
		sec := tableSection{title: title, indent: indent, header: header}
		for _, e := range l {
			o := e.(object)
			row := make([]string, len(header))
			for i, k := range header {
				if v, ok := o.get(k); ok {
					row[i] = cell(v)
				}
			}
			sec.rows = append(sec.rows, row)
		}
		*secs = append(*secs, sec)
		return
	}
	sec := tableSection{title: title, indent: indent}
	var nested []any
	for _, e := range l {
		if row, ok := scalarRow(e); ok {
			sec.rows = append(sec.rows, row)
		} else {
			nested = append(nested, e)
		}
	}
	if len(sec.rows) > 0 {
		*secs = append(*secs, sec)
	}
	for _, e := range nested {
		buildTable(secs, title, e, indent)
	}
}

// flatObjectsHeader returns the keys, in first-seen order, of a list whose
// elements are all objects with only scalar members.
func flatObjectsHeader(l []any) ([]string, bool) {
	var header []string
	for _, e := range l {
		o, ok := e.(object)
		if !ok {
			return nil, false
		}
		for _, m := range o {
			if !isScalar(m.Value) {
				return nil, false
			}
			if !contains(header, m.Key) {
				header = append(header, m.Key)
			}
		}
	}
	return header, len(header) > 0
}

// scalarRow is the row of a scalar or of a list of scalars.
func scalarRow(v any) ([]string, bool) {
	if isScalar(v) {
		return []string{cell(v)}, true
	}
	l, ok := v.([]any)
	if !ok || len(l) == 0 {
		return nil, false
	}
	row := make([]string, len(l))
	for i, e := range l {
		if !isScalar(e) {
			return nil, false
		}
		row[i] = cell(e)
	}
	return row, true
}

func cell(v any) string {
	return strings.NewReplacer("\n", " ", "\r", " ", "\t", " ").Replace(textScalar(v))
}

// renderTable draws the sections with one common outer width.
func renderTable(secs []tableSection) string {
	width := 0
	for _, s := range secs {
		width = max(width, s.minWidth()+2*s.indent)
	}
	var b strings.Builder
	b.WriteString(strings.Repeat("-", width) + "\n")
	for _, s := range secs {
		s.render(&b, width-2*s.indent)
	}
	return b.String()
}

// columns returns the natural width of each column: the widest cell plus
// two spaces on each side.
func (s tableSection) columns() []int {
	var widths []int
	for _, row := range append([][]string{s.header}, s.rows...) {
		for i, c := range row {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(c)+4)
		}
	}
	return widths
}

func (s tableSection) minWidth() int {
	w := utf8.RuneCountInString(s.title) + 6
	cols := s.columns()
	if len(cols) > 0 {
		total := len(cols) + 1
		for _, c := range cols {
			total += c
		}
		w = max(w, total)
	}
	return w
}

// render draws the section in width columns, inside indent pairs of bars.
func (s tableSection) render(b *strings.Builder, width int) {
	bars := strings.Repeat("|", s.indent)
	line := func(text string) { b.WriteString(bars + text + bars + "\n") }
	cols := s.columns()
	if len(cols) > 0 {
		used := len(cols) + 1
		for _, c := range cols {
			used += c
		}
		cols[len(cols)-1] += width - used
	}
	line("|" + center(s.title, width-2) + "|")
	line(border(cols, width))
	if len(s.header) > 0 {
		line(row(s.header, cols, true))
		line(border(cols, width))
	}
	for _, r := range s.rows {
		line(row(r, cols, false))
	}
	if len(s.rows) > 0 {
		line(border(cols, width))
	}
}

func border(cols []int, width int) string {
	if len(cols) == 0 {
		return "+" + strings.Repeat("-", width-2) + "+"
	}
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = strings.Repeat("-", c)
	}
	return "+" + strings.Join(parts, "+") + "+"
}

func row(cells []string, cols []int, centered bool) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		text := ""
		if i < len(cells) {
			text = cells[i]
		}
		if centered {
			parts[i] = center(text, c)
		} else {
			parts[i] = "  " + text + strings.Repeat(" ", max(0, c-2-utf8.RuneCountInString(text)))
		}
	}
	return "|" + strings.Join(parts, "|") + "|"
}

func center(text string, width int) string {
	pad := max(0, width-utf8.RuneCountInString(text))
	return strings.Repeat(" ", pad/2) + text + strings.Repeat(" ", pad-pad/2)
}

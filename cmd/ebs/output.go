package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"time"
	"unicode/utf8"
)

// timestampMembers are the response members that hold timestamps (epoch
// seconds on the wire). They are printed as the AWS CLI v2 prints them.
// This is the one list; add EC2/EBS members here.
var timestampMembers = map[string]bool{
	"CreationDate":              true,
	"DeletionDate":              true,
	"NextRotationDate":          true,
	"RotationDate":              true,
	"LastUpdatedDate":           true,
	"ValidTo":                   true,
	"OnDemandRotationStartDate": true,
	"CreateDate":                true,
	"EventTime":                 true,
	"StartTime":                 true,
	"CreateTime":                true,
	"CompletionTime":            true,
	"AttachTime":                true,
	"ExpiryTime":                true,
}

// A decoded JSON document keeps the daemon's key order. Its values are:
// object, []any, string, json.Number, bool, nil (and float64 after --query).

// member is one key of an object.
type member struct {
	Key   string
	Value any
}

// object is a JSON object in the order its members were read or set.
type object []member

// get returns the value of key and whether it is present.
func (o object) get(key string) (any, bool) {
	for _, m := range o {
		if m.Key == key {
			return m.Value, true
		}
	}
	return nil, false
}

// set replaces the value of key, or appends it.
func (o *object) set(key string, value any) {
	for i := range *o {
		if (*o)[i].Key == key {
			(*o)[i].Value = value
			return
		}
	}
	*o = append(*o, member{key, value})
}

// MarshalJSON writes the object compactly, in order, without HTML escaping.
func (o object) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	if err := writeCompact(&buf, o); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// decodeOrdered parses a JSON document keeping key order and number text.
func decodeOrdered(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("trailing data after the JSON value")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		return decodeObject(dec)
	case json.Delim('['):
		return decodeArray(dec)
	}
	return tok, nil
}

func decodeObject(dec *json.Decoder) (object, error) {
	obj := object{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		v, err := decodeValue(dec)
		if err != nil {
			return nil, err
		}
		obj = append(obj, member{tok.(string), v})
	}
	_, err := dec.Token() // '}'
	return obj, err
}

func decodeArray(dec *json.Decoder) ([]any, error) {
	arr := []any{}
	for dec.More() {
		v, err := decodeValue(dec)
		if err != nil {
			return nil, err
		}
		arr = append(arr, v)
	}
	_, err := dec.Token() // ']'
	return arr, err
}

// convertTimestamps replaces the epoch numbers of timestampMembers, at any
// depth, by their ISO 8601 text in loc.
func convertTimestamps(v any, loc *time.Location) any {
	switch t := v.(type) {
	case object:
		for i, m := range t {
			if n, ok := m.Value.(json.Number); ok && timestampMembers[m.Key] {
				if s, err := formatTimestamp(n, loc); err == nil {
					t[i].Value = s
				}
				continue
			}
			t[i].Value = convertTimestamps(m.Value, loc)
		}
	case []any:
		for i := range t {
			t[i] = convertTimestamps(t[i], loc)
		}
	}
	return v
}

// formatTimestamp prints epoch seconds like Python's datetime.isoformat(),
// which the AWS CLI v2 uses: 2026-11-28T13:07:39.123000+00:00, without the
// fraction when it is zero. The decimal is read exactly and rounded to the
// microsecond.
func formatTimestamp(n json.Number, loc *time.Location) (string, error) {
	r, ok := new(big.Rat).SetString(string(n))
	if !ok {
		return "", fmt.Errorf("bad timestamp %q", n)
	}
	micros := new(big.Rat).Mul(r, big.NewRat(1e6, 1))
	us := new(big.Int).Quo(micros.Num(), micros.Denom()) // truncated toward zero
	rem := new(big.Rat).Sub(micros, new(big.Rat).SetInt(us))
	if rem.Sign() < 0 {
		us.Sub(us, big.NewInt(1))
		rem.Add(rem, big.NewRat(1, 1))
	}
	if c := rem.Cmp(big.NewRat(1, 2)); c > 0 || (c == 0 && us.Bit(0) == 1) {
		us.Add(us, big.NewInt(1))
	}
	if !us.IsInt64() {
		return "", fmt.Errorf("timestamp %q out of range", n)
	}
	t := time.UnixMicro(us.Int64()).In(loc)
	layout := "2006-01-02T15:04:05-07:00"
	if t.Nanosecond() != 0 {
		layout = "2006-01-02T15:04:05.000000-07:00"
	}
	return t.Format(layout), nil
}

// writeJSON prints v as the AWS CLI does: 4-space indentation, non-ASCII
// as is, a final newline; an empty object prints nothing.
func writeJSON(w io.Writer, v any) error {
	if o, ok := v.(object); ok && len(o) == 0 {
		return nil
	}
	var compact, out bytes.Buffer
	if err := writeCompact(&compact, v); err != nil {
		return err
	}
	if err := json.Indent(&out, compact.Bytes(), "", "    "); err != nil {
		return fmt.Errorf("indent output: %w", err)
	}
	out.WriteByte('\n')
	_, err := w.Write(out.Bytes())
	return err
}

// writeCompact writes v as compact JSON in the order of its objects.
func writeCompact(buf *bytes.Buffer, v any) error {
	switch t := v.(type) {
	case object:
		buf.WriteByte('{')
		for i, m := range t {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeString(buf, m.Key)
			buf.WriteByte(':')
			if err := writeCompact(buf, m.Value); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case []any:
		buf.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeCompact(buf, e); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case string:
		writeString(buf, t)
	default:
		return writeScalar(buf, v)
	}
	return nil
}

func writeScalar(buf *bytes.Buffer, v any) error {
	switch t := v.(type) {
	case nil:
		buf.WriteString("null")
	case bool:
		buf.WriteString(strconv.FormatBool(t))
	case json.Number:
		buf.WriteString(string(t))
	case float64:
		buf.WriteString(formatFloat(t))
	default:
		b, err := json.Marshal(t)
		if err != nil {
			return fmt.Errorf("encode %T: %w", v, err)
		}
		buf.Write(b)
	}
	return nil
}

// writeString quotes s as Python's json.dumps(ensure_ascii=False) does.
func writeString(buf *bytes.Buffer, s string) {
	buf.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			buf.WriteByte('\\')
			buf.WriteRune(r)
		case r == '\n':
			buf.WriteString(`\n`)
		case r == '\r':
			buf.WriteString(`\r`)
		case r == '\t':
			buf.WriteString(`\t`)
		case r < 0x20:
			fmt.Fprintf(buf, `\u%04x`, r)
		case r == utf8.RuneError:
			buf.WriteString(`\ufffd`)
		default:
			buf.WriteRune(r)
		}
	}
	buf.WriteByte('"')
}

// formatFloat prints a number that went through --query: integers without
// a fraction, others in the shortest form.
func formatFloat(f float64) string {
	if f == float64(int64(f)) && f < 1e18 && f > -1e18 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

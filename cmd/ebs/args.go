package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// paramKind says how a flag's text becomes a request member, as in the
// AWS CLI. Every kind but kindBlob reads its text from a file given as
// file://PATH.
type paramKind int

const (
	kindString     paramKind = iota // text
	kindBlob                        // base64 text, or fileb://PATH for raw bytes; sent as base64
	kindInt                         // integer
	kindBool                        // --flag / --no-flag
	kindList                        // strings: a,b,c or a JSON list; repeatable
	kindMap                         // string to string: k1=v1,k2=v2 or a JSON object
	kindStruct                      // shorthand K1=V1,K2={k=v} or a JSON object
	kindStructList                  // one shorthand structure per flag, or a JSON list; repeatable
	kindTime                        // RFC 3339, YYYY-MM-DD or epoch seconds; sent as epoch seconds
)

// Values of --cli-binary-format, as in the AWS CLI v2.
const (
	binaryBase64 = "base64"            // blob text is base64 (the default)
	binaryRaw    = "raw-in-base64-out" // blob text is the raw bytes
)

// typeName is the placeholder help shows after the flag.
func (k paramKind) typeName() string {
	return [...]string{"string", "blob", "int", "", "list", "map", "structure", "structures", "timestamp"}[k]
}

// hint is the part of the help text that explains the syntax.
func (k paramKind) hint() string {
	return [...]string{
		"",
		"base64 text, or fileb://PATH for the raw bytes of a file",
		"",
		"",
		"comma-separated or a JSON list; repeatable",
		"k1=v1,k2=v2 or JSON {\"k1\":\"v1\"}",
		"shorthand K=V,K2={k=v} or JSON",
		"shorthand K=V,K2=V2 (repeat the flag for more) or a JSON list",
		"RFC 3339, YYYY-MM-DD or epoch seconds",
	}[k]
}

// repeatable kinds collect every occurrence of the flag.
func (k paramKind) repeatable() bool { return k == kindList || k == kindStructList }

// paramValue is the pflag.Value of every non-boolean parameter: it keeps
// the raw text, parsed only when the command runs.
type paramValue struct {
	kind paramKind
	vals []string
}

func (v *paramValue) String() string { return strings.Join(v.vals, " ") }
func (v *paramValue) Type() string   { return v.kind.typeName() }

func (v *paramValue) Set(s string) error {
	if v.kind.repeatable() {
		v.vals = append(v.vals, s)
	} else {
		v.vals = []string{s}
	}
	return nil
}

// parseParam turns the raw text of one flag into the request value.
func parseParam(kind paramKind, raw []string, keys []string, binaryFormat string) (any, error) {
	if kind == kindBlob {
		return parseBlob(raw[len(raw)-1], binaryFormat)
	}
	texts := make([]string, len(raw))
	for i, r := range raw {
		t, err := loadParamFile(r)
		if err != nil {
			return nil, err
		}
		texts[i] = t
	}
	last := texts[len(texts)-1]
	switch kind {
	case kindInt:
		return parseInt(last)
	case kindList:
		return parseList(texts)
	case kindMap:
		return parseMap(last)
	case kindStruct:
		return parseStruct(last, keys)
	case kindStructList:
		return parseStructList(texts, keys)
	case kindTime:
		return parseTime(last)
	}
	return last, nil
}

// loadParamFile returns the contents of file://PATH, or v itself.
func loadParamFile(v string) (string, error) {
	path, ok := strings.CutPrefix(v, "file://")
	if !ok {
		return v, nil
	}
	data, err := readParamFile(path)
	if err != nil {
		return "", fmt.Errorf("unable to load paramfile %s: %w", v, err)
	}
	return string(data), nil
}

func readParamFile(path string) ([]byte, error) {
	if rest, ok := strings.CutPrefix(path, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			path = filepath.Join(home, rest)
		}
	}
	return os.ReadFile(path)
}

// parseBlob returns the base64 text to send: fileb://PATH is read and
// encoded; file://PATH and inline text are base64 to be checked, or raw
// bytes with --cli-binary-format raw-in-base64-out.
func parseBlob(v, binaryFormat string) (string, error) {
	if path, ok := strings.CutPrefix(v, "fileb://"); ok {
		data, err := readParamFile(path)
		if err != nil {
			return "", fmt.Errorf("unable to load paramfile %s: %w", v, err)
		}
		return base64.StdEncoding.EncodeToString(data), nil
	}
	text, err := loadParamFile(v)
	if err != nil {
		return "", err
	}
	if binaryFormat == binaryRaw {
		return base64.StdEncoding.EncodeToString([]byte(text)), nil
	}
	data, err := decodeBase64(text)
	if err != nil {
		return "", fmt.Errorf("invalid base64: %q (use fileb://PATH to send the bytes of a file)", shorten(text))
	}
	return base64.StdEncoding.EncodeToString(data), nil
}

// decodeBase64 accepts standard base64, padded or not, ignoring line
// breaks and spaces (as `base64` wraps its output).
func decodeBase64(s string) ([]byte, error) {
	s = strings.Join(strings.Fields(s), "")
	if data, err := base64.StdEncoding.DecodeString(s); err == nil {
		return data, nil
	}
	return base64.RawStdEncoding.DecodeString(s)
}

func shorten(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}

func parseInt(s string) (json.Number, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return "", fmt.Errorf("invalid integer %q", s)
	}
	return json.Number(strconv.FormatInt(n, 10)), nil
}

// parseList reads a,b,c or ["a","b"] from every occurrence of the flag.
func parseList(texts []string) ([]string, error) {
	out := []string{}
	for _, t := range texts {
		if strings.HasPrefix(strings.TrimSpace(t), "[") {
			var l []string
			if err := json.Unmarshal([]byte(t), &l); err != nil {
				return nil, fmt.Errorf("invalid JSON list of strings: %w", err)
			}
			out = append(out, l...)
			continue
		}
		for _, e := range strings.Split(t, ",") {
			if e = strings.TrimSpace(e); e != "" {
				out = append(out, e)
			}
		}
	}
	return out, nil
}

// parseMap reads a string-to-string map: k1=v1,k2=v2 or {"k1":"v1"}.
func parseMap(s string) (object, error) {
	obj, err := parseObject(s)
	if err != nil {
		return nil, err
	}
	for _, m := range obj {
		if _, ok := m.Value.(string); !ok {
			return nil, fmt.Errorf("the value of %q must be a string", m.Key)
		}
	}
	return obj, nil
}

// parseStruct reads a structure whose members must be among keys.
func parseStruct(s string, keys []string) (object, error) {
	obj, err := parseObject(s)
	if err != nil {
		return nil, err
	}
	return obj, checkKeys(obj, keys)
}

// parseStructList reads one structure per occurrence, or JSON lists of them.
func parseStructList(texts []string, keys []string) ([]any, error) {
	out := []any{}
	for _, t := range texts {
		if !strings.HasPrefix(strings.TrimSpace(t), "[") {
			obj, err := parseStruct(t, keys)
			if err != nil {
				return nil, err
			}
			out = append(out, obj)
			continue
		}
		v, err := decodeOrdered([]byte(t))
		if err != nil {
			return nil, fmt.Errorf("invalid JSON: %w", err)
		}
		for _, e := range v.([]any) {
			obj, ok := e.(object)
			if !ok {
				return nil, fmt.Errorf("invalid JSON: expected a list of objects")
			}
			if err := checkKeys(obj, keys); err != nil {
				return nil, err
			}
			out = append(out, obj)
		}
	}
	return out, nil
}

// parseObject reads JSON when s starts with '{' and shorthand otherwise.
func parseObject(s string) (object, error) {
	if !strings.HasPrefix(strings.TrimSpace(s), "{") {
		return parseShorthand(s)
	}
	v, err := decodeOrdered([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	obj, ok := v.(object)
	if !ok {
		return nil, fmt.Errorf("invalid JSON: expected an object")
	}
	return obj, nil
}

func checkKeys(obj object, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	for _, m := range obj {
		if !contains(keys, m.Key) {
			return fmt.Errorf("unknown parameter %q, must be one of: %s", m.Key, strings.Join(keys, ", "))
		}
	}
	return nil
}

// parseTime reads RFC 3339, 2006-01-02T15:04:05 (UTC), 2006-01-02 (UTC
// midnight) or epoch seconds, and returns epoch seconds.
func parseTime(s string) (json.Number, error) {
	s = strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return json.Number(strconv.FormatFloat(f, 'f', -1, 64)), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return epochSeconds(t), nil
		}
	}
	return "", fmt.Errorf("invalid timestamp %q: use RFC 3339 (2026-11-28T13:07:39Z), YYYY-MM-DD or epoch seconds", s)
}

// epochSeconds prints t as seconds since the epoch, with a fraction only
// when t has one.
func epochSeconds(t time.Time) json.Number {
	s := strconv.FormatInt(t.Unix(), 10)
	if t.Unix() < 0 {
		return json.Number(strconv.FormatFloat(float64(t.UnixNano())/1e9, 'f', -1, 64))
	}
	if ns := t.Nanosecond(); ns != 0 {
		s += strings.TrimRight(fmt.Sprintf(".%09d", ns), "0")
	}
	return json.Number(s)
}

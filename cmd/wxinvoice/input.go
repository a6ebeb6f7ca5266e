package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// chinaTime is the zone of zoneless times given on the command line: WeChat
// shows invoice times in China time (UTC+8).
var chinaTime = time.FixedZone("CST", 8*3600)

// readInput reads -f: a file, or stdin for "-".
func (a *app) readInput(name string) ([]byte, error) {
	var (
		b   []byte
		err error
	)
	if name == "-" {
		b, err = io.ReadAll(a.stdin)
	} else {
		b, err = os.ReadFile(name)
	}
	if err != nil {
		return nil, usagef("read input: %v", err)
	}
	return b, nil
}

// parseInput decodes a JSON object into a generic map (numbers kept exact).
func parseInput(data []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, usagef("input is not valid JSON: %v", err)
	}
	if dec.More() {
		return nil, usagef("input holds more than one JSON value")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, usagef("input must be a JSON object")
	}
	return m, nil
}

// decodeInto fills dst (a pointer to a request struct) from m, a generic
// JSON object whose keys may be the Go field names (case-insensitive),
// snake_case (order_id), or WeChat's own name where it differs (the field's
// wire tag: s_pdf_media_id for PDFMediaID, info for Items). Times accept RFC 3339, "2006-01-02 15:04:05" (China
// time), "2006-01-02" or Unix seconds; integers accept numeric strings;
// strings accept bare numbers (their exact digits). Unknown fields are refused
// with the path of the field and the names that are known.
func decodeInto(m map[string]any, dst any) error {
	t := reflect.TypeOf(dst).Elem()
	norm, err := normalize(m, t, "")
	if err != nil {
		return &usageError{err}
	}
	b, err := json.Marshal(norm)
	if err != nil {
		return &usageError{err}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return usagef("input: %v", err)
	}
	return nil
}

var timeType = reflect.TypeOf(time.Time{})

// normalize rewrites v to the JSON encoding/json expects for type t.
func normalize(v any, t reflect.Type, path string) (any, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v == nil {
		return nil, nil
	}
	if t == timeType {
		return normalizeTime(v, path)
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: expected a JSON object", orTop(path))
		}
		fields := structFields(t)
		out := make(map[string]any, len(m))
		for k, fv := range m {
			f, ok := fields[foldKey(k)]
			if !ok {
				return nil, fmt.Errorf("%s: unknown field %q (known: %s)", orTop(path), k, knownFields(t))
			}
			if _, dup := out[f.Name]; dup {
				return nil, fmt.Errorf("%s: field %s given twice", orTop(path), join(path, f.Name))
			}
			nv, err := normalize(fv, f.Type, join(path, f.Name))
			if err != nil {
				return nil, err
			}
			out[f.Name] = nv
		}
		return out, nil
	case reflect.Slice, reflect.Array:
		s, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("%s: expected a JSON array", orTop(path))
		}
		out := make([]any, len(s))
		for i, e := range s {
			nv, err := normalize(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			out[i] = nv
		}
		return out, nil
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: expected a JSON object", orTop(path))
		}
		out := make(map[string]any, len(m))
		for k, e := range m {
			nv, err := normalize(e, t.Elem(), join(path, k))
			if err != nil {
				return nil, err
			}
			out[k] = nv
		}
		return out, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		var s string
		switch x := v.(type) {
		case json.Number:
			s = x.String()
		case string:
			s = strings.TrimSpace(x)
		default:
			return nil, fmt.Errorf("%s: expected an integer", path)
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil && isMoney(path) {
			return nil, fmt.Errorf("%s: expected an integer (money is in fen, 分), got %s", path, s)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: expected an integer, got %s", path, s)
		}
		return json.Number(strconv.FormatInt(n, 10)), nil
	case reflect.Float32, reflect.Float64:
		switch x := v.(type) {
		case json.Number:
			return x, nil
		case string:
			f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
			if err != nil {
				return nil, fmt.Errorf("%s: expected a number, got %q", path, x)
			}
			return f, nil
		}
		return nil, fmt.Errorf("%s: expected a number", path)
	case reflect.String:
		switch x := v.(type) {
		case string:
			return x, nil
		case json.Number:
			return x.String(), nil // keep the digits exactly as written
		}
		return nil, fmt.Errorf("%s: expected a string", path)
	case reflect.Bool:
		switch x := v.(type) {
		case bool:
			return x, nil
		case string:
			b, err := strconv.ParseBool(x)
			if err != nil {
				return nil, fmt.Errorf("%s: expected true or false, got %q", path, x)
			}
			return b, nil
		}
		return nil, fmt.Errorf("%s: expected true or false", path)
	}
	return v, nil
}

// isMoney reports whether the field at path is an amount in fen.
func isMoney(path string) bool {
	name := path[strings.LastIndexByte(path, '.')+1:]
	switch name {
	case "Fee", "FeeWithoutTax", "Tax", "Price", "Money":
		return true
	}
	return false
}

func normalizeTime(v any, path string) (any, error) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = strings.TrimSpace(x)
	default:
		return nil, fmt.Errorf("%s: expected a time", path)
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0).In(chinaTime).Format(time.RFC3339), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.Format(time.RFC3339Nano), nil
	}
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, chinaTime); err == nil {
			return t.Format(time.RFC3339), nil
		}
	}
	return nil, fmt.Errorf("%s: %q is not a time (use RFC 3339, \"2006-01-02 15:04:05\" in China time, or Unix seconds)", path, s)
}

// foldKey is how input keys are matched to fields: lower case, without _ and -.
func foldKey(k string) string {
	return strings.ToLower(strings.NewReplacer("_", "", "-", "", " ", "").Replace(k))
}

// structFields maps folded names (Go name and json tag) to exported fields.
func structFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() || jsonName(f) == "-" {
			continue
		}
		out[foldKey(f.Name)] = f
		if n := jsonName(f); n != "" {
			out[foldKey(n)] = f
		}
		if n := f.Tag.Get("wire"); n != "" {
			out[foldKey(n)] = f // WeChat's name where it is not the field's, e.g. s_pdf_media_id
		}
	}
	return out
}

func knownFields(t reflect.Type) string {
	var names []string
	for i := 0; i < t.NumField(); i++ {
		if f := t.Field(i); f.IsExported() && jsonName(f) != "-" {
			names = append(names, f.Name)
		}
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// jsonName returns the name in f's json tag ("" when none).
func jsonName(f reflect.StructField) string {
	tag := f.Tag.Get("json")
	name, _, _ := strings.Cut(tag, ",")
	return name
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func orTop(path string) string {
	if path == "" {
		return "input"
	}
	return path
}

// setPath sets m[path] (a dotted path of Go field names) to v, creating the
// intermediate objects.
func setPath(m map[string]any, path string, v any) {
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = v
}

// exampleTime is the time shown in --example skeletons.
var exampleTime = time.Date(2024, 5, 1, 10, 0, 0, 0, chinaTime)

// example returns a skeleton of type t for --example: every field present,
// one element in each slice, times set to exampleTime.
func example(t reflect.Type) reflect.Value {
	v := reflect.New(t).Elem()
	fill(v)
	return v
}

func fill(v reflect.Value) {
	switch {
	case v.Type() == timeType:
		v.Set(reflect.ValueOf(exampleTime))
	case v.Kind() == reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i))
			}
		}
	case v.Kind() == reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(s.Index(0))
		v.Set(s)
	case v.Kind() == reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem())
		v.Set(p)
	}
}

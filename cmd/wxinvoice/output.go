package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// print writes v to stdout as -o asks: JSON (the SDK's Go field names) or a
// table.
func (a *app) print(v any) error {
	return a.printTo(a.stdout, v)
}

func (a *app) printTo(w io.Writer, v any) error {
	if a.output == "json" {
		return writeJSON(w, v)
	}
	return writeTable(w, v)
}

func writeJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // URLs keep their &
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// writeTable renders a struct as FIELD VALUE rows (nested fields dotted,
// slice elements indexed) and a slice of structs as a table with one column
// per field. Empty strings and zero times are left out of the rows (JSON
// output has every field), as are fields tagged json:"-".
func writeTable(w io.Writer, v any) error {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface {
		if rv.IsNil() {
			return nil
		}
		rv = rv.Elem()
	}
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 4, 2, ' ', 0)
	if rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() != reflect.Uint8 {
		var cols []string
		var rows [][]kv
		seen := map[string]bool{}
		for i := 0; i < rv.Len(); i++ {
			r := flatten(nil, "", rv.Index(i))
			for _, c := range r {
				if !seen[c.k] {
					seen[c.k] = true
					cols = append(cols, c.k)
				}
			}
			rows = append(rows, r)
		}
		if len(cols) == 0 {
			cols = []string{"VALUE"}
		}
		head := make([]string, len(cols))
		for i, c := range cols {
			head[i] = strings.ToUpper(c)
		}
		fmt.Fprintln(tw, strings.Join(head, "\t"))
		for _, r := range rows {
			m := map[string]string{}
			for _, c := range r {
				m[c.k] = c.v
			}
			if len(r) == 1 && r[0].k == "" {
				m["VALUE"] = r[0].v
			}
			cells := make([]string, len(cols))
			for i, c := range cols {
				cells[i] = m[c]
			}
			fmt.Fprintln(tw, strings.Join(cells, "\t"))
		}
	} else {
		for _, c := range flatten(nil, "", rv) {
			if c.v == "" && c.k != "" {
				continue
			}
			if c.k == "" {
				fmt.Fprintln(tw, c.v)
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\n", c.k, c.v)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// tabwriter pads cells followed by an empty one: trim line ends.
	var out strings.Builder
	for _, line := range strings.SplitAfter(buf.String(), "\n") {
		if strings.HasSuffix(line, "\n") {
			out.WriteString(strings.TrimRight(line, " \n") + "\n")
		} else {
			out.WriteString(line)
		}
	}
	_, err := io.WriteString(w, out.String())
	return err
}

type kv struct{ k, v string }

// flatten lists the leaves of v with their dotted paths.
func flatten(out []kv, path string, v reflect.Value) []kv {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return append(out, kv{path, ""})
		}
		v = v.Elem()
	}
	switch {
	case v.Type() == timeType:
		t := v.Interface().(time.Time)
		s := ""
		if !t.IsZero() {
			s = t.Format(time.RFC3339)
		}
		return append(out, kv{path, s})
	case v.Kind() == reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			tag := f.Tag.Get("json")
			name, opts, _ := strings.Cut(tag, ",")
			if name == "-" {
				continue
			}
			if strings.Contains(opts, "omitempty") && v.Field(i).IsZero() {
				continue
			}
			if name == "" || f.Anonymous {
				name = f.Name
			}
			if f.Anonymous && v.Field(i).Kind() == reflect.Struct {
				out = flatten(out, path, v.Field(i))
				continue
			}
			out = flatten(out, join(path, name), v.Field(i))
		}
		return out
	case (v.Kind() == reflect.Slice || v.Kind() == reflect.Array) && v.Type().Elem().Kind() != reflect.Uint8:
		if v.Len() == 0 {
			return append(out, kv{path, ""})
		}
		for i := 0; i < v.Len(); i++ {
			out = flatten(out, fmt.Sprintf("%s[%d]", path, i), v.Index(i))
		}
		return out
	case v.Kind() == reflect.Map:
		keys := v.MapKeys()
		strs := make([]string, len(keys))
		for i, k := range keys {
			strs[i] = fmt.Sprint(k.Interface())
		}
		idx := sortedIndex(strs)
		for _, i := range idx {
			out = flatten(out, join(path, strs[i]), v.MapIndex(keys[i]))
		}
		return out
	}
	return append(out, kv{path, fmt.Sprint(v.Interface())})
}

func sortedIndex(s []string) []int {
	idx := make([]int, len(s))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(i, j int) bool { return s[idx[i]] < s[idx[j]] })
	return idx
}

package model

import (
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"sync"

	"github.com/gorilla/schema"
)

// The schema encoder and decoder cache struct metadata and are safe for
// concurrent use, so one of each serves the whole process.
var (
	decoder = func() *schema.Decoder {
		d := schema.NewDecoder()
		d.IgnoreUnknownKeys(true)
		d.ZeroEmpty(true)
		return d
	}()
	encoder = schema.NewEncoder()
)

// Encode writes a request struct (or a response, for the simulator) as form
// values. Zero optional fields are left out.
func Encode(v any) (url.Values, error) {
	out := url.Values{}
	if err := encoder.Encode(v, out); err != nil {
		return nil, fmt.Errorf("model: encode %T: %w", v, err)
	}
	return out, nil
}

// Decode fills dst, a pointer to a struct of this package, from form
// values. Names match fields in any letter case, as the gateway's own
// reader does. A name given twice, in the same case or not, is an error:
// the gateway signs one value per name, and silently picking one would
// decide on unsigned data.
func Decode(dst any, values url.Values) error {
	for k, vs := range values {
		if len(vs) > 1 {
			return fmt.Errorf("model: %q given %d times", k, len(vs))
		}
	}
	t := reflect.TypeOf(dst)
	if t == nil || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("model: decode into %T: want a pointer to a struct", dst)
	}
	// gorilla/schema alone would also match names case-insensitively, but
	// let total_fee and TOTAL_FEE race for one field in map order; only
	// the declared spelling of each matched name is passed on.
	known := fieldsOf(t.Elem())
	exact := make(url.Values, len(values))
	for k, vs := range values {
		name, ok := known[strings.ToLower(k)]
		if !ok {
			continue
		}
		if _, dup := exact[name]; dup {
			return fmt.Errorf("model: %q given twice in different letter case", name)
		}
		exact[name] = vs
	}
	if err := decoder.Decode(dst, exact); err != nil {
		return fmt.Errorf("model: decode %T: %s", dst, plainSchemaError(err))
	}
	return nil
}

// DecodeNotification decodes a notification and keeps the fields it does
// not name (in any letter case) in Extra.
func DecodeNotification(values url.Values) (*Notification, error) {
	n := new(Notification)
	if err := Decode(n, values); err != nil {
		return nil, err
	}
	known := fieldsOf(reflect.TypeOf(*n))
	for k, vs := range values {
		if _, ok := known[strings.ToLower(k)]; ok {
			continue
		}
		if n.Extra == nil {
			n.Extra = url.Values{}
		}
		n.Extra[k] = vs
	}
	return n, nil
}

// fieldCache maps a struct type to its schema names, keyed lower-case.
var fieldCache sync.Map

// fieldsOf returns the schema names of t's fields, embedded structs
// included, keyed by their lower-case form.
func fieldsOf(t reflect.Type) map[string]string {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]string)
	}
	m := map[string]string{}
	var walk func(reflect.Type)
	walk = func(t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("schema"), ",")
			if f.Anonymous && f.Type.Kind() == reflect.Struct && name == "" {
				walk(f.Type)
				continue
			}
			if name != "" && name != "-" && f.IsExported() {
				m[strings.ToLower(name)] = name
			}
		}
	}
	walk(t)
	fieldCache.Store(t, m)
	return m
}

// plainSchemaError names the fields gorilla/schema failed on, sorted,
// without echoing their values.
func plainSchemaError(err error) string {
	var me schema.MultiError
	if errors.As(err, &me) {
		names := make([]string, 0, len(me))
		for k := range me {
			names = append(names, k)
		}
		sort.Strings(names)
		return "invalid value for " + strings.Join(names, ", ")
	}
	return "invalid form"
}

package model

import (
	"fmt"
	"net/url"
	"reflect"
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
// values. A name given twice is an error: the gateway signs one value per
// name, and silently picking one would decide on unsigned data.
func Decode(dst any, values url.Values) error {
	for k, vs := range values {
		if len(vs) > 1 {
			return fmt.Errorf("model: %q given %d times", k, len(vs))
		}
	}
	if err := decoder.Decode(dst, values); err != nil {
		return fmt.Errorf("model: decode %T: %s", dst, plainSchemaError(err))
	}
	return nil
}

// DecodeNotification decodes a notification and keeps the fields it does
// not name in Extra.
func DecodeNotification(values url.Values) (*Notification, error) {
	n := new(Notification)
	if err := Decode(n, values); err != nil {
		return nil, err
	}
	known := notificationFields()
	for k, vs := range values {
		if _, ok := known[k]; ok {
			continue
		}
		if n.Extra == nil {
			n.Extra = url.Values{}
		}
		n.Extra[k] = vs
	}
	return n, nil
}

var notificationFields = sync.OnceValue(func() map[string]struct{} {
	m := map[string]struct{}{}
	t := reflect.TypeOf(Notification{})
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("schema"), ",")
		if name != "" && name != "-" {
			m[name] = struct{}{}
		}
	}
	return m
})

// plainSchemaError names the fields gorilla/schema failed on without
// echoing their values.
func plainSchemaError(err error) string {
	if me, ok := err.(schema.MultiError); ok {
		names := make([]string, 0, len(me))
		for k := range me {
			names = append(names, k)
		}
		return "invalid value for " + strings.Join(names, ", ")
	}
	return err.Error()
}

// Package recut generates re-cuts of a signed gateway message: other sets
// of fields with the same canonical string, and so the same sign. The
// canonical string joins raw k=v with '&' and leaves blank values out, so
// a run "&k=v" can move into or out of a neighbouring value (or name), and
// blank fields can be added, without the key. Tests of package handler,
// package middleware and package client use it to prove guarantee G10:
// every re-cut is refused or decided exactly like the genuine message.
// gatewaytest.CheckEndpoint sends a few of them to a deployed shop.
package recut

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// Pair is one field of a message.
type Pair struct {
	// K is the field's name as sent.
	K string
	// V is its value as sent.
	V string
}

// Cut is one re-cut: a name saying what was done, and the fields to send,
// the sign among them.
type Cut struct {
	// Name says what the cut did, for test failures.
	Name string
	// Pairs are the fields to send, in order, the sign among them.
	Pairs []Pair
}

// Values returns the cut as form values.
func (c Cut) Values() url.Values {
	v := make(url.Values, len(c.Pairs))
	for _, p := range c.Pairs {
		v[p.K] = append(v[p.K], p.V)
	}
	return v
}

// Map returns the cut as a JSON reply's members.
func (c Cut) Map() map[string]string {
	m := make(map[string]string, len(c.Pairs))
	for _, p := range c.Pairs {
		m[p.K] = p.V
	}
	return m
}

// Blanks are blank spellings the canonical string leaves out: the empty
// string, ASCII whitespace and Unicode spaces such as the ideographic
// space U+3000 and the no-break space U+00A0.
var Blanks = []string{"", " ", "\t", "\r\n", "\u3000", "\u00a0", " \t\u3000 "}

// Canonical returns msg's signed pairs in canonical order: every field but
// the sign, blank values left out, names sorted by their lower-case form
// and then by their bytes (docs/protocol.md section 2.1).
func Canonical(msg map[string]string) []Pair {
	var ps []Pair
	for k, v := range msg {
		if strings.EqualFold(k, "sign") || k == "" || strings.TrimSpace(v) == "" {
			continue
		}
		ps = append(ps, Pair{k, v})
	}
	sort.Slice(ps, func(i, j int) bool {
		a, b := strings.ToLower(ps[i].K), strings.ToLower(ps[j].K)
		if a != b {
			return a < b
		}
		return ps[i].K < ps[j].K
	})
	return ps
}

// All returns every re-cut of msg (which carries its sign) that the
// generator knows, systematically:
//
//   - each run of one or more consecutive canonical pairs folded into the
//     value of the pair before it, the folded names then left out, sent
//     blank in every spelling of Blanks, or sent blank in upper case;
//   - each such run together with the pair before it folded into one
//     name, with the run's last value as its value;
//   - each value holding "&k=v" runs split at each of them into fields;
//   - each name in decided added blank (every spelling of Blanks) in
//     lower, upper and title case, where msg does not hold that spelling.
//
// Not every cut keeps the canonical string (a split may land out of
// order); callers keep those that still verify.
func All(msg map[string]string, decided []string) []Cut {
	signName, signValue := "", ""
	for k, v := range msg {
		if strings.EqualFold(k, "sign") {
			signName, signValue = k, v
		}
	}
	canon := Canonical(msg)
	// Fields the canonical string leaves out (blank ones) are sent as they
	// were.
	var rest []Pair
	for k, v := range msg {
		if k != signName && (k == "" || strings.TrimSpace(v) == "") {
			rest = append(rest, Pair{k, v})
		}
	}
	base := func() []Pair {
		out := append([]Pair(nil), rest...)
		return append(out, Pair{signName, signValue})
	}
	var cuts []Cut
	for i := 1; i < len(canon); i++ {
		for j := i + 1; j <= len(canon); j++ {
			run := canon[i:j]
			var b strings.Builder
			for _, p := range run {
				b.WriteString("&" + p.K + "=" + p.V)
			}
			folded := canon[i-1].V + b.String()
			keep := func() []Pair {
				out := base()
				out = append(out, canon[:i-1]...)
				out = append(out, Pair{canon[i-1].K, folded})
				return append(out, canon[j:]...)
			}
			cuts = append(cuts, Cut{fmt.Sprintf("fold %s..%s into %s, dropped", run[0].K, run[len(run)-1].K, canon[i-1].K), keep()})
			for bi, blank := range Blanks {
				out := keep()
				for _, p := range run {
					out = append(out, Pair{p.K, blank})
				}
				cuts = append(cuts, Cut{fmt.Sprintf("fold %s..%s into %s, blank #%d", run[0].K, run[len(run)-1].K, canon[i-1].K, bi), out})
				out = keep()
				for _, p := range run {
					out = append(out, Pair{strings.ToUpper(p.K), blank})
				}
				cuts = append(cuts, Cut{fmt.Sprintf("fold %s..%s into %s, upper-case blank #%d", run[0].K, run[len(run)-1].K, canon[i-1].K, bi), out})
			}
			// Into a name: "k0=v0&k1=v1&...&kn" = vn.
			var nb strings.Builder
			nb.WriteString(canon[i-1].K + "=" + canon[i-1].V)
			for _, p := range run[:len(run)-1] {
				nb.WriteString("&" + p.K + "=" + p.V)
			}
			nb.WriteString("&" + run[len(run)-1].K)
			out := base()
			out = append(out, canon[:i-1]...)
			out = append(out, Pair{nb.String(), run[len(run)-1].V})
			out = append(out, canon[j:]...)
			cuts = append(cuts, Cut{fmt.Sprintf("fold %s..%s with %s into a name", run[0].K, run[len(run)-1].K, canon[i-1].K), out})
		}
	}
	for i, p := range canon {
		for at := strings.IndexByte(p.V, '&'); at >= 0; {
			out := base()
			out = append(out, canon[:i]...)
			out = append(out, Pair{p.K, p.V[:at]})
			for _, kv := range strings.Split(p.V[at+1:], "&") {
				k, v, _ := strings.Cut(kv, "=")
				out = append(out, Pair{k, v})
			}
			out = append(out, canon[i+1:]...)
			cuts = append(cuts, Cut{fmt.Sprintf("split %s at byte %d", p.K, at), out})
			next := strings.IndexByte(p.V[at+1:], '&')
			if next < 0 {
				break
			}
			at += 1 + next
		}
	}
	for _, name := range decided {
		for _, spelt := range []string{name, strings.ToUpper(name), strings.ToUpper(name[:1]) + name[1:]} {
			if _, ok := msg[spelt]; ok {
				continue
			}
			for bi, blank := range Blanks {
				out := base()
				out = append(out, canon...)
				out = append(out, Pair{spelt, blank})
				cuts = append(cuts, Cut{fmt.Sprintf("add blank %s #%d", spelt, bi), out})
			}
		}
	}
	return cuts
}

package model

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The canonical string joins raw k=v with '&' and leaves blank values out
// (docs/protocol.md section 2.1), so a captured message can be re-cut without
// changing its sign: a run "&k=v" folded into the value before it, or a
// blank field added. The rules below make every field the kit decides on
// unable to take part in such a cut: a decided value holds no '&', '=' or
// whitespace, so no run can hide in it, and it is never blank, so it is
// always inside the signed string. Package handler, package middleware
// and package client apply them to every signed message (guarantee G10).

// FieldKind is the shape a decided field's value must have.
type FieldKind uint8

// Field kinds.
const (
	// Token is a code or an identifier: at least one character, valid
	// UTF-8, and no '&', '=', whitespace (Unicode spaces such as U+3000
	// included) or control character.
	Token FieldKind = iota
	// Number is an amount in fen, a count or pay_result: plain ASCII
	// digits with no sign and no leading zero ("0" itself is allowed).
	Number
	// Time is yyyyMMddHHmmss: exactly 14 ASCII digits that ParseTime reads.
	Time
)

// Field is one field the kit decides on and the shape of its value.
type Field struct {
	// Name is the wire name, e.g. total_fee.
	Name string
	// Kind is the shape its value must have.
	Kind FieldKind
}

// ErrDecidedField reports a decided field that is blank, badly shaped or
// spelt in another letter case. The message names the field, never its
// value.
var ErrDecidedField = errors.New("model: decided field")

// NotifyFields returns the notification fields the kit decides on or
// stores, a fresh copy on each call. out_transaction_id is stored with the
// payment, so it is held to the same rule. Presence is the caller's to
// check: what must be there depends on state, result_code and pay_result.
func NotifyFields() []Field { return slices.Clone(notifyFields) }

var notifyFields = []Field{
	{"state", Token}, {"result_code", Token}, {"pay_result", Number},
	{"mch_id", Token}, {"out_trade_no", Token}, {"transaction_id", Token},
	{"out_transaction_id", Token}, {"total_fee", Number}, {"time_end", Time},
}

// ReplyFields returns the fields of a signed gateway reply (pre-order,
// query, cancel, refund, refund query) the kit or its host decides on, a
// fresh copy on each call. time_end is a Token here, not a Time: the
// reconciler only records it (falling back to the clock), and refusing a
// paid reply over its format would leave the order unsettled.
func ReplyFields() []Field { return slices.Clone(replyFields) }

var replyFields = []Field{
	{"state", Token}, {"code", Token}, {"trade_state", Token},
	{"mch_id", Token}, {"out_trade_no", Token}, {"transaction_id", Token},
	{"out_transaction_id", Token}, {"base_fee", Number}, {"total_fee", Number},
	{"time_end", Token},
	{"out_refund_no", Token}, {"refund_id", Token}, {"refund_status", Token},
	{"refund_fee", Number}, {"base_refund_fee", Number}, {"coupon_refund_fee", Number},
	{"refund_count", Number}, {"refund_fee_summary", Number}, {"base_refund_fee_summary", Number},
}

// CheckFields checks a signed message against fields: every one of them
// that values holds must have exactly one value of its kind (so a blank
// one is refused, not skipped), and no name in values may be a field's
// name in another letter case (the gateway's names are lower case, and a
// reader that folds case would otherwise see a second, unsigned spelling).
// No name may hold '&' or '=', and no other field's value may hold a run
// "&k=" naming a decided field. It does not require any field to be
// present.
func CheckFields(values url.Values, fields []Field) error {
	for k, vs := range values {
		folds := false
		for i := 0; i < len(k); i++ {
			switch c := k[i]; {
			case c == '&' || c == '=':
				// Only a re-cut puts a run into a name.
				return fmt.Errorf("%w: a name holds '&' or '='", ErrDecidedField)
			case 'A' <= c && c <= 'Z' || c >= utf8.RuneSelf:
				folds = true
			}
		}
		decided := false
		for i := range fields {
			f := &fields[i]
			// The names are lower-case ASCII, so only a name with a
			// capital or a non-ASCII byte can be another spelling of one:
			// the common case costs one string comparison per field.
			if k != f.Name && (!folds || !strings.EqualFold(k, f.Name)) {
				continue
			}
			if k != f.Name {
				return fmt.Errorf("%w: %s is spelt %q", ErrDecidedField, f.Name, k)
			}
			if len(vs) != 1 {
				return fmt.Errorf("%w: %s is given %d times", ErrDecidedField, f.Name, len(vs))
			}
			if !f.Kind.Valid(vs[0]) {
				return fmt.Errorf("%w: %s is not a %s", ErrDecidedField, f.Name, f.Kind)
			}
			decided = true
			break
		}
		if !decided {
			for _, v := range vs {
				if name, ok := hidesField(v, fields); ok {
					return fmt.Errorf("%w: %s hides a %s field", ErrDecidedField, k, name)
				}
			}
		}
	}
	return nil
}

// hidesField reports whether v, the value of a field the kit does not
// decide on, holds a run "&k=" whose k is a decided name in any letter
// case. Split out, such a run would add a decided field the signer never
// sent as one; no genuine value looks like that.
func hidesField(v string, fields []Field) (string, bool) {
	for {
		at := strings.IndexByte(v, '&')
		if at < 0 {
			return "", false
		}
		v = v[at+1:]
		name, _, ok := strings.Cut(v, "=")
		if !ok {
			return "", false
		}
		for i := range fields {
			if strings.EqualFold(name, fields[i].Name) {
				return fields[i].Name, true
			}
		}
	}
}

// String names the kind for error messages.
func (k FieldKind) String() string {
	switch k {
	case Number:
		return "plain number"
	case Time:
		return "yyyyMMddHHmmss time"
	}
	return "token"
}

// Valid reports whether v has the shape of kind k.
func (k FieldKind) Valid(v string) bool {
	switch k {
	case Number:
		_, ok := ParseNumber(v)
		return ok
	case Time:
		_, ok := parseCompact(v)
		return ok
	}
	return ValidToken(v)
}

// ValidToken reports whether v can be a decided code or identifier: not
// empty, valid UTF-8, and free of '&', '=', whitespace and control
// characters.
func ValidToken(v string) bool {
	if v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c >= utf8.RuneSelf {
			return validTokenSlow(v[i:])
		}
		if c <= ' ' || c == 0x7F || c == '&' || c == '=' {
			return false
		}
	}
	return true
}

func validTokenSlow(v string) bool {
	for _, r := range v {
		if r == utf8.RuneError || r == '&' || r == '=' || unicode.IsSpace(r) || unicode.IsControl(r) ||
			unicode.Is(unicode.Zs, r) || unicode.Is(unicode.Cf, r) {
			return false
		}
	}
	return true
}

// ParseNumber reads a plain non-negative number: ASCII digits only, no
// sign, no leading zero ("0" is fine), at most 18 digits so that it fits
// an int64 with room to add. "+1800", "01800", " 1800" and "1800 " are
// refused, though strconv.ParseInt would take some of them.
func ParseNumber(v string) (int64, bool) {
	if v == "" || len(v) > 18 || (v[0] == '0' && len(v) > 1) {
		return 0, false
	}
	var n int64
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// CheckNotification holds a notification's decided fields to their
// shapes (CheckFields with NotifyFields()) and requires those its meaning
// rests on: state, result_code and out_trade_no always; mch_id and
// pay_result when state and result_code report success; total_fee,
// transaction_id and time_end when pay_result is 0 as well. A genuine
// gateway sends all of them (docs/protocol.md section 5), so a message that
// lacks one was cut, and is refused rather than guessed at.
func CheckNotification(values url.Values) error {
	if err := CheckFields(values, notifyFields); err != nil {
		return err
	}
	has := func(k string) bool { return len(values[k]) == 1 }
	for _, k := range [...]string{"state", "result_code", "out_trade_no"} {
		if !has(k) {
			return fmt.Errorf("%w: %s is missing", ErrDecidedField, k)
		}
	}
	rc := values["result_code"][0]
	if State(values["state"][0]) != StateSuccess || (rc != ResultSuccess && rc != "0") {
		return nil
	}
	for _, k := range [...]string{"mch_id", "pay_result"} {
		if !has(k) {
			return fmt.Errorf("%w: %s is missing from a successful notification", ErrDecidedField, k)
		}
	}
	if values["pay_result"][0] != PayResultSuccess {
		return nil
	}
	for _, k := range [...]string{"total_fee", "transaction_id", "time_end"} {
		if !has(k) {
			return fmt.Errorf("%w: %s is missing from a paid notification", ErrDecidedField, k)
		}
	}
	return nil
}

// CheckReply holds a signed gateway reply's decided fields to their
// shapes (CheckFields with ReplyFields()) and requires state. Which business
// fields must be present is the caller's to say: it depends on the call
// and on what the reply reports.
func CheckReply(values url.Values) error {
	if err := CheckFields(values, replyFields); err != nil {
		return err
	}
	if len(values["state"]) != 1 {
		return fmt.Errorf("%w: state is missing", ErrDecidedField)
	}
	return nil
}

// FactFields returns the payment facts the kit records with a paid
// notification or order query (store.MoneyFacts) but never decides on:
// coupon_fee, fee_type, bank_type, sub_appid, wx_mch_id, wx_sub_mch_id.
func FactFields() []Field { return slices.Clone(factFields) }

var factFields = []Field{
	{"coupon_fee", Number}, {"fee_type", Token}, {"bank_type", Token},
	{"sub_appid", Token}, {"wx_mch_id", Token}, {"wx_sub_mch_id", Token},
}

// CheckFacts reports whether a verified message's payment facts
// (FactFields) may be recorded: each one given is given once, spelt in
// lower case and of its shape, and no other field's value hides a run
// "&k=" naming one, which a re-cut of the signed string could have made
// of a genuine fact (say, a coupon_fee folded out of sight). A blank fact
// counts as absent. The notification handler refuses a paid notification
// that fails it, as it does any cut; the client only leaves a failing
// reply's facts out (model.OrderQueryResponse.FactsDropped), since a
// refused query could never settle the payment.
func CheckFacts(values url.Values) error {
	present := make(url.Values, len(factFields))
	for k, vs := range values {
		for _, f := range factFields {
			if strings.EqualFold(k, f.Name) {
				if len(vs) == 1 && vs[0] == "" {
					break // blank: absent, and outside the signed string
				}
				present[k] = vs
				break
			}
		}
	}
	if err := CheckFields(present, factFields); err != nil {
		return err
	}
	for k, vs := range values {
		if _, fact := present[k]; fact {
			continue
		}
		for _, v := range vs {
			if name, ok := hidesField(v, factFields); ok {
				return fmt.Errorf("%w: %s hides a %s field", ErrDecidedField, k, name)
			}
		}
	}
	return nil
}

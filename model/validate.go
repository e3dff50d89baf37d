package model

import (
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-playground/validator/v10"
)

// FieldError is one broken rule. It never holds the offending value, which
// may be personal data or a secret.
type FieldError struct {
	// Field is the wire name, e.g. "out_trade_no" ("channel" for
	// PreOrderRequest.Channel, which is not sent).
	Field string
	// Rule names the rule: a validator tag ("required", "out_trade_no",
	// "gt", ...) or one of the conditional rules ("required_when",
	// "required_either_when", "excluded_when").
	Rule string
	// Message says what is wrong in plain words, starting with Field.
	Message string
}

// ValidationError lists every broken rule of one value, in field order.
// Test for it with errors.As.
type ValidationError struct {
	// Fields lists each invalid field, in struct order.
	Fields []FieldError
}

// Error joins the messages: "model: out_trade_no must be ...; product_id ...".
func (e *ValidationError) Error() string {
	msgs := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		msgs[i] = f.Message
	}
	return "model: " + strings.Join(msgs, "; ")
}

// Validate checks a request, response or notification of this package (a
// struct or a pointer to one) against its validate tags and, for
// PreOrderRequest, the rules that depend on the channel and trade type:
// NATIVE needs product_id; WeChat JSPAY and APP need sub_appid; WeChat
// JSPAY needs buyer_id; Alipay JSPAY needs buyer_id or buyer_logon_id; an
// e-CNY order must not carry goods_tag. It returns nil or a
// *ValidationError.
func Validate(v any) error {
	err := validate().Struct(v)
	if err == nil {
		return nil
	}
	var fes validator.ValidationErrors
	if !errors.As(err, &fes) {
		return fmt.Errorf("model: cannot validate %T", v)
	}
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	out := &ValidationError{Fields: make([]FieldError, 0, len(fes))}
	for _, fe := range fes {
		out.Fields = append(out.Fields, FieldError{
			Field:   fe.Field(),
			Rule:    fe.Tag(),
			Message: message(fe, t),
		})
	}
	return out
}

// validate is the one validator of the process: it caches struct metadata
// and is safe for concurrent use.
var validate = sync.OnceValue(func() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(wireName)
	for tag, fn := range map[string]validator.Func{
		"out_trade_no":    matches(outTradeNoRE),
		"cancel_trade_no": matches(cancelTradeNoRE),
		"goods_id":        matches(goodsIDRE),
		"cytime":          func(fl validator.FieldLevel) bool { return validTime(fl.Field().String()) },
		"notify_url":      func(fl validator.FieldLevel) bool { return ValidNotifyURL(fl.Field().String()) },
		"goods_detail":    func(fl validator.FieldLevel) bool { return goodsDetailProblem(fl.Field().String()) == "" },
		"signable":        func(fl validator.FieldLevel) bool { return Signable(fl.Field().String()) },
		"paytype": func(fl validator.FieldLevel) bool {
			_, ok := PayType(fl.Field().String()).Meaning()
			return ok
		},
	} {
		if err := v.RegisterValidation(tag, fn); err != nil {
			panic("model: register " + tag + ": " + err.Error())
		}
	}
	v.RegisterStructValidation(preOrderRules, PreOrderRequest{})
	return v
})

var (
	outTradeNoRE    = regexp.MustCompile(`^[A-Za-z0-9]{5,32}$`)
	cancelTradeNoRE = regexp.MustCompile(`^[A-Za-z0-9_]{5,32}$`)
	goodsIDRE       = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
)

func matches(re *regexp.Regexp) validator.Func {
	return func(fl validator.FieldLevel) bool { return re.MatchString(fl.Field().String()) }
}

// wireName names a field as the gateway does: the schema tag, else the
// json tag, else the Go name in snake case for the few unsent fields.
func wireName(f reflect.StructField) string {
	for _, tag := range []string{"schema", "json"} {
		name, _, _ := strings.Cut(f.Tag.Get(tag), ",")
		if name != "" && name != "-" {
			return name
		}
	}
	return strings.ToLower(f.Name)
}

// validTime reports whether s is a real yyyyMMddHHmmss date and time.
func validTime(s string) bool {
	if len(s) != len(TimeLayout) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	_, err := time.ParseInLocation(TimeLayout, s, Beijing)
	return err == nil
}

// ValidNotifyURL reports whether s can be a notify_url: an absolute http or
// https URL with a host and no query string or fragment (the gateway
// forbids parameters on it, and a query string would never be signed).
func ValidNotifyURL(s string) bool {
	if strings.ContainsAny(s, "?# \t\r\n") {
		return false
	}
	u, err := url.Parse(s)
	if err != nil {
		return false
	}
	scheme := strings.ToLower(u.Scheme)
	return (scheme == "http" || scheme == "https") && u.Host != "" && u.Opaque == ""
}

// Signable reports whether s can be sent as a free-text value the gateway
// will sign as the kit did: valid UTF-8, no control character, no '%'
// (the gateway unescapes values before it signs them) and no white space
// at either end (it trims them). Such a value would be refused at the
// gateway as a bad sign (20002), after the attempt was recorded.
func Signable(s string) bool {
	if !utf8.ValidString(s) || strings.ContainsRune(s, '%') || strings.TrimSpace(s) != s {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// preOrderRules are the PreOrderRequest rules that tags cannot say.
func preOrderRules(sl validator.StructLevel) {
	r := sl.Current().Interface().(PreOrderRequest)
	if r.TradeType == TradeTypeNative && r.ProductID == "" {
		sl.ReportError(r.ProductID, "product_id", "ProductID", "required_when", "trade_type is NATIVE")
	}
	switch r.Channel {
	case PayWeChat:
		if (r.TradeType == TradeTypeJSPay || r.TradeType == TradeTypeApp) && r.SubAppID == "" {
			sl.ReportError(r.SubAppID, "sub_appid", "SubAppID", "required_when", "channel is WECHAT and trade_type is "+r.TradeType)
		}
		if r.TradeType == TradeTypeJSPay && r.BuyerID == "" {
			sl.ReportError(r.BuyerID, "buyer_id", "BuyerID", "required_when", "channel is WECHAT and trade_type is JSPAY")
		}
	case PayAlipay:
		if r.TradeType == TradeTypeJSPay && r.BuyerID == "" && r.BuyerLogonID == "" {
			sl.ReportError(r.BuyerID, "buyer_id", "BuyerID", "required_either_when", "buyer_logon_id|channel is ALIPAY and trade_type is JSPAY")
		}
	case PayECNY:
		if r.GoodsTag != "" {
			sl.ReportError(r.GoodsTag, "goods_tag", "GoodsTag", "excluded_when", "channel is ECNY")
		}
	}
}

// message words one error. It uses the field's name and the rule's
// parameter, never the value.
func message(fe validator.FieldError, t reflect.Type) string {
	f, p := fe.Field(), fe.Param()
	switch fe.Tag() {
	case "required":
		return f + " is required"
	case "required_when":
		return f + " is required when " + p
	case "required_either_when":
		other, cond, _ := strings.Cut(p, "|")
		return f + " or " + other + " is required when " + cond
	case "excluded_when":
		return f + " must be empty when " + p
	case "required_without":
		return f + " or " + fieldWireName(t, p) + " is required"
	case "excluded_with":
		return f + " and " + fieldWireName(t, p) + " must not both be given"
	case "oneof":
		return f + " must be one of " + strings.Join(strings.Fields(p), ", ")
	case "gt":
		if p == "0" {
			return f + " must be greater than 0"
		}
		return f + " must be greater than " + p
	case "gte":
		return f + " must be " + p + " or more"
	case "max":
		if fe.Kind() == reflect.String {
			return f + " must be at most " + p + " characters"
		}
		return f + " must be at most " + p
	case "ltefield":
		return f + " must not exceed " + fieldWireName(t, p)
	case "ip":
		return f + " must be an IP address"
	case "printascii":
		return f + " must be printable ASCII"
	case "out_trade_no":
		return f + " must be 5 to 32 letters or digits"
	case "cancel_trade_no":
		return f + " must be 5 to 32 letters, digits or underscores"
	case "goods_id":
		return f + " must be letters, digits, '_' or '-'"
	case "cytime":
		return f + " must be a real date and time as yyyyMMddHHmmss"
	case "notify_url":
		return f + " must be an absolute http or https URL without a query string or fragment"
	case "paytype":
		return f + " must be a known paytype (WECHAT, ALIPAY, UNIONPAY, ECNY, LONGPAY, BESTPAY, JDPAY)"
	case "signable":
		return f + " must be valid UTF-8 without a '%', a control character or spaces at either end"
	case "goods_detail":
		if s, ok := fe.Value().(string); ok {
			return f + " " + goodsDetailProblem(s)
		}
		return f + " must be a JSON array of goods"
	}
	return f + " breaks the " + fe.Tag() + " rule"
}

// fieldWireName maps a Go field name used as a tag parameter (as in
// ltefield=TotalFee) to its wire name.
func fieldWireName(t reflect.Type, goName string) string {
	if t.Kind() == reflect.Struct {
		if f, ok := t.FieldByName(goName); ok {
			return wireName(f)
		}
	}
	return goName
}

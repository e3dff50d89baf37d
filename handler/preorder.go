package handler

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/store"
)

// Purchase is what the host's resolver says a business order costs and
// who is paid: the amount never comes from the browser.
type Purchase struct {
	// MchID is the merchant paid. Required.
	MchID string
	// Amount is the amount due in fen. Required, > 0.
	Amount int64
	// Body is the goods description shown to the buyer. Required.
	Body string
	// ProductID is sent as product_id; zero means the out_trade_no.
	ProductID string
	// Attach is sent as attach (echoed by order queries, not
	// notifications). Signable text: no '%', control character or
	// spaces at either end (model.Signable), as for every text below.
	Attach string
	// Goods are the items (goods_detail): goods_id of letters, digits,
	// '_' or '-', quantity above 0, price in fen 0 or more. The gateway
	// does not ask that they add up to Amount (a discount may make them
	// differ), so the kit does not either; their total must fit an int64.
	Goods []model.GoodsDetail
	// GoodsTag is the promotion tag for coupons and discounts
	// (goods_tag). The gateway forbids it for e-CNY, so it is left out of
	// an ECNY attempt: Resolve cannot know the channel the buyer picks.
	GoodsTag string
	// LimitPay is limit_pay: model.LimitNoCredit (NO_CREDIT) forbids
	// credit cards; "" allows them.
	LimitPay string
	// OpShopID attributes the payment to a store (op_shop_id).
	OpShopID string
	// OpUserID attributes the payment to an operator (op_user_id); the
	// gateway defaults it to MchID.
	OpUserID string
	// DeviceInfo attributes the payment to a terminal (device_info);
	// notifications echo it.
	DeviceInfo string
	// ProfitSharing is the profit-sharing flag (profit_sharing). The
	// gateway's documents show only the example N and no list of values:
	// it is passed on unchanged. The legacy Alipay endpoint (a v1
	// client's ALIPAY attempts) has no profit sharing, and such an
	// attempt is refused before anything is recorded.
	ProfitSharing string
	// ProfitSharingReceiver is the split's receivers
	// (profit_sharing_receiver), whose format the gateway does not
	// document: passed on unchanged, like ProfitSharing.
	ProfitSharingReceiver string
	// Expire is how long the attempt stays payable: the pre-order carries
	// time_start (now) and time_expire (now + Expire), and the Reconciler
	// watches the attempt until then. Between MinExpire and MaxExpire;
	// zero means PreOrderConfig.Expire.
	Expire time.Duration
}

// Validate reports, naming the field, what in the purchase the gateway
// would refuse or the kit cannot send: a missing merchant, amount or
// body, or a field above that breaks its rule. The pre-order handler runs
// it on every purchase Resolve returns, before anything is recorded; a
// failure is the host's mistake, answered 500 with the message. Hosts can
// run it in their own tests of Resolve.
func (b Purchase) Validate() error {
	goods, err := model.EncodeGoods(b.Goods)
	if err != nil {
		return err
	}
	// Any channel and trade type: the buyer's choice is not this check's.
	return model.Validate(&model.PreOrderRequest{
		Channel: model.PayWeChat, TradeType: model.TradeTypeNative, ProductID: "P", OutTradeNo: "CHECK0001",
		MchID: b.MchID, TotalFee: b.Amount, Body: b.Body, Attach: b.Attach, GoodsDetail: goods,
		GoodsTag: b.GoodsTag, LimitPay: b.LimitPay, OpShopID: b.OpShopID, OpUserID: b.OpUserID,
		DeviceInfo: b.DeviceInfo, ProfitSharing: b.ProfitSharing, ProfitSharingReceiver: b.ProfitSharingReceiver,
	})
}

// MinExpire and MaxExpire bound an attempt's expiry (PreOrderConfig.Expire,
// Purchase.Expire). The gateway documents no bound. A minute leaves a buyer
// time to scan and pay; a day is the Reconciler's MaxAge, the longest any
// attempt was watched before attempts expired, and each hour of life costs
// about four gateway queries (one per tail step of at most 15 minutes).
const (
	MinExpire = time.Minute
	MaxExpire = 24 * time.Hour
)

// DefaultExpire is an attempt's life when the host sets none: WeChat's
// prepay_id lasts two hours, so a longer life buys nothing on WeChat.
const DefaultExpire = 2 * time.Hour

// PreOrderConfig configures a PreOrder handler. Every field documents its
// zero value.
type PreOrderConfig struct {
	// Store holds the attempts. Required.
	Store store.OrderStore
	// Client calls the gateway; its Version is recorded on each attempt
	// and decides which key verifies the attempt's notifications. Required.
	Client *client.Client
	// Resolve returns what a business order costs. Wrap ErrOrderNotFound
	// (404), ErrOrderNotPayable (409) or ErrOrderInvalid (422) to choose
	// the reply; the error text is shown to the caller. Any other error
	// is a 500 whose text is logged, not shown. Required.
	Resolve func(ctx context.Context, businessID string) (Purchase, error)
	// NotifyURL is where the gateway posts notifications: absolute http(s)
	// with no query string. Required.
	NotifyURL string
	// Authorize says whether the caller of r may start a payment for
	// business order orderID. Order ids are often guessable, and anyone who
	// can start attempts for an order could otherwise fill it with
	// attempts of their own: check the shop's session, or the token the
	// shop handed the buyer with the order (the one StatusConfig.Authorize
	// takes). It runs before Resolve, before anything is recorded and
	// before the gateway is called, so a refused request (403) costs no
	// row and no gateway call. Required: a host whose own middleware has
	// already authorised the request says so with AllowAnyone.
	Authorize func(r *http.Request, orderID string) bool
	// MaxOpen bounds a business order's open attempts: PENDING ones
	// created less than OpenFor ago. A request that would make one more is
	// answered 429 with Retry-After (when the oldest of them stops
	// counting); a repeated request that reuses or joins an attempt (see
	// ReusePending) makes none, so a buyer's double clicks never reach the
	// bound. Zero means 5; negative is an error.
	MaxOpen int
	// OpenFor is how long an attempt counts as open for MaxOpen. Zero
	// means 2 h; negative is an error.
	OpenFor time.Duration
	// ReusePending: a repeated request for the same business order,
	// channel and trade type returns an attempt still PENDING that was
	// created less than this long ago, has its checkout (NATIVE: a
	// code_url; JSPAY: a pay_info), and has the same merchant and amount,
	// instead of starting another. A JSPAY attempt's pay_info belongs to
	// one buyer, so it is reused only for a request with the same buyer
	// fields (sub_appid, buyer_id, is_minipg, buyer_logon_id); another
	// buyer gets an attempt of their own. Zero means 2 min; negative
	// disables reuse, and also the sharing of an attempt still being made.
	ReusePending time.Duration
	// Expire is how long each attempt stays payable (see Purchase.Expire,
	// which overrides it per purchase): the pre-order carries time_start
	// and time_expire, both, since Alipay ignores one without the other.
	// Between MinExpire and MaxExpire; zero means DefaultExpire (2 h).
	Expire time.Duration
	// MaxBody is the largest accepted request body. Zero means 16 KiB.
	MaxBody int64
	// TrustedProxies are the proxies in front of the handler whose
	// X-Forwarded-For it believes, for the buyer's IP it sends as
	// mch_create_ip. The IP is the request's peer (RemoteAddr) unless
	// that peer is in TrustedProxies; then it is the right-most
	// X-Forwarded-For address that is not, since every address left of
	// the first untrusted hop could have been written by the buyer. Nil
	// trusts no proxy and never reads X-Forwarded-For. Ignored when
	// ClientIP is set.
	TrustedProxies []netip.Prefix
	// ClientIP, when not nil, replaces that policy: it returns the IP to
	// send as mch_create_ip for r ("" sends none), e.g. from a header
	// the host's own load balancer sets, or the shop server's IP for
	// hosts that read the gateway's "调用支付API的机器IP" (the IP of the
	// machine calling the API) that way. Anything but an IP address is
	// the host's mistake: the request is answered 500.
	ClientIP func(r *http.Request) string
	// Trace starts and ends a StagePreOrder per request (see Trace); the
	// gateway call runs under its context. Nil means none, at no cost.
	Trace Trace
	// Events records each attempt's creation and the gateway's answer to
	// its pre-order (store.EventCreated, store.EventPreOrdered) in its
	// history. A failed write is logged and changes nothing. Nil means
	// none; sqlstore.Store and memstore.Store implement it.
	Events store.EventStore
	// Logger receives this handler's structured logs. Nil means
	// slog.Default() as it is when the constructor runs: the kit's one
	// logger, shared by every handler left at nil (see the package doc).
	Logger *slog.Logger
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// PreOrder is the pre-order proxy. The browser or POS posts (JSON or a
// form) order_id, channel (WECHAT, ALIPAY, ECNY), trade_type (NATIVE,
// JSPAY, APP, APP_BANK; zero means NATIVE) and the channel's buyer fields
// sub_appid, buyer_id, is_minipg, buyer_logon_id — never an amount: a
// request carrying amount, total_fee, price or fee is refused with 400.
// The handler resolves the order through the host, checks the request the
// gateway would get (so that nothing is recorded for a request that could
// never be sent), records a new PENDING attempt (see OutTradeNo) and only
// then calls the gateway. A request identical to one whose attempt is
// still being made (same business order, channel, trade type, merchant and
// amount; for JSPAY also the same buyer fields, since a JSPAY checkout
// belongs to one buyer) waits for that attempt's checkout instead of making
// another, whichever instance made it: concurrent double clicks make one
// attempt. The buyer fields are kept in the store only as a fingerprint
// (store.Order.Buyer).
//
// PreOrderConfig.Authorize decides who may start a payment, before
// anything else is done for the request; MaxOpen bounds the attempts
// open at once, never the attempts an order may have over its life.
//
// Replies are an OrderView as JSON — 201 for a new attempt, 200 for a
// reused one, 202 when the gateway's answer is unknown (timeout, 5xx,
// NEED_QUERY: the attempt stays PENDING and the Reconciler settles it) —
// or an RFC 9457 application/problem+json: 400 malformed, 403 refused by
// Authorize, 405 not POST, 415 content type, 404 / 409 / 422 from
// Resolve, 409 already paid, 422 invalid fields or refused by the gateway
// as invalid, 429 MaxOpen reached (with Retry-After), 502 refused by the
// gateway otherwise (with its code and msg), 500 store failure.
type PreOrder struct {
	store     store.OrderStore
	client    *client.Client
	resolve   func(ctx context.Context, businessID string) (Purchase, error)
	authorize func(r *http.Request, orderID string) bool
	notifyURL string
	reuse     time.Duration
	expire    time.Duration
	maxOpen   int
	openFor   time.Duration
	maxBody   int64
	proxies   []netip.Prefix
	clientIP  func(r *http.Request) string
	log       *slog.Logger
	now       func() time.Time
	trace     Trace
	hist      *recorder // nil: no history
}

// NewPreOrder validates cfg and returns the pre-order handler.
func NewPreOrder(cfg PreOrderConfig) (*PreOrder, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("handler: PreOrderConfig.Store is required")
	case cfg.Client == nil:
		return nil, errors.New("handler: PreOrderConfig.Client is required")
	case cfg.Resolve == nil:
		return nil, errors.New("handler: PreOrderConfig.Resolve is required")
	case cfg.Authorize == nil:
		return nil, errors.New("handler: PreOrderConfig.Authorize is required (AllowAnyone if your middleware authorises)")
	case cfg.MaxOpen < 0:
		return nil, errors.New("handler: PreOrderConfig.MaxOpen is negative")
	case cfg.OpenFor < 0:
		return nil, errors.New("handler: PreOrderConfig.OpenFor is negative")
	case cfg.MaxBody < 0:
		return nil, errors.New("handler: PreOrderConfig.MaxBody is negative")
	case cfg.Expire != 0 && (cfg.Expire < MinExpire || cfg.Expire > MaxExpire):
		return nil, fmt.Errorf("handler: PreOrderConfig.Expire %s outside %s–%s", cfg.Expire, MinExpire, MaxExpire)
	}
	if !model.ValidNotifyURL(cfg.NotifyURL) {
		return nil, errors.New("handler: PreOrderConfig.NotifyURL must be an absolute http(s) URL without query or fragment")
	}
	p := &PreOrder{
		store:     cfg.Store,
		client:    cfg.Client,
		resolve:   cfg.Resolve,
		authorize: cfg.Authorize,
		notifyURL: cfg.NotifyURL,
		reuse:     cfg.ReusePending,
		expire:    cfg.Expire,
		maxOpen:   cfg.MaxOpen,
		openFor:   cfg.OpenFor,
		maxBody:   cfg.MaxBody,
		proxies:   slices.Clone(cfg.TrustedProxies),
		clientIP:  cfg.ClientIP,
		log:       cfg.Logger,
		now:       cfg.Now,
		trace:     cfg.Trace,
	}
	if p.reuse == 0 {
		p.reuse = 2 * time.Minute
	}
	if p.maxBody == 0 {
		p.maxBody = 16 << 10
	}
	if p.expire == 0 {
		p.expire = DefaultExpire
	}
	if p.maxOpen == 0 {
		p.maxOpen = 5
	}
	if p.openFor == 0 {
		p.openFor = 2 * time.Hour
	}
	if p.log == nil {
		p.log = slog.Default()
	}
	if p.now == nil {
		p.now = time.Now
	}
	p.hist = newRecorder(nil, cfg.Events, "", p.log, nil)
	return p, nil
}

// preOrderRequest is what the browser may post.
type preOrderRequest struct {
	OrderID      string `json:"order_id"`
	Channel      string `json:"channel"`
	TradeType    string `json:"trade_type"`
	SubAppID     string `json:"sub_appid"`
	BuyerID      string `json:"buyer_id"`
	IsMinipg     string `json:"is_minipg"`
	BuyerLogonID string `json:"buyer_logon_id"`
	// clientIP is the buyer's IP by the handler's proxy policy, never a
	// posted field.
	clientIP string
}

// forbiddenFields are refused outright: the amount is the host's to say.
var forbiddenFields = []string{"amount", "total_fee", "price", "fee"}

// AllowAnyone is a PreOrderConfig.Authorize that lets every request
// start a payment. Use it only where the host's own middleware, in front
// of the handler, already lets through no one but the order's buyer.
func AllowAnyone(*http.Request, string) bool { return true }

// ServeHTTP handles one pre-order request.
func (p *PreOrder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p.trace == nil {
		p.serve(w, r)
		return
	}
	r, end := traceRequest(p.trace, r, StagePreOrder)
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	p.serve(sw, r)
	var err error
	if sw.status >= 500 {
		// A 4xx is the caller's mistake, not a failure of the stage.
		err = fmt.Errorf("handler: pre-order answered %d", sw.status)
	}
	end(err)
}

// serve handles one pre-order request (ServeHTTP adds its Trace).
func (p *PreOrder) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		p.reply(w, r, problem{Status: http.StatusMethodNotAllowed, Detail: "use POST"})
		return
	}
	req, perr := p.decode(w, r)
	if perr != nil {
		p.reply(w, r, *perr)
		return
	}
	if perr := validateRequest(&req); perr != nil {
		p.reply(w, r, *perr)
		return
	}
	if !p.authorize(r, req.OrderID) {
		p.reply(w, r, problem{Status: http.StatusForbidden, Detail: "not allowed to pay for this order"})
		return
	}
	ctx := r.Context()
	buy, err := p.resolve(ctx, req.OrderID)
	if err != nil {
		p.reply(w, r, p.resolveProblem(r, req.OrderID, err))
		return
	}
	if buy.MchID == "" || buy.Amount <= 0 || buy.Body == "" {
		p.log.LogAttrs(ctx, slog.LevelError, "handler: Resolve returned an incomplete purchase",
			slog.String("order_id", req.OrderID), slog.Int64("amount", buy.Amount))
		p.reply(w, r, problem{Status: http.StatusInternalServerError, Detail: "the order cannot be priced"})
		return
	}
	if buy.Expire == 0 {
		buy.Expire = p.expire
	}
	if buy.Expire < MinExpire || buy.Expire > MaxExpire {
		p.log.LogAttrs(ctx, slog.LevelError, "handler: Resolve returned an expiry out of bounds",
			slog.String("order_id", req.OrderID), slog.Duration("expire", buy.Expire))
		p.reply(w, r, problem{Status: http.StatusInternalServerError, Detail: "the order cannot be priced"})
		return
	}
	// The host's mistakes are caught here, named, and never sent.
	if err := buy.Validate(); err != nil {
		p.log.LogAttrs(ctx, slog.LevelError, "handler: Resolve returned an invalid purchase",
			slog.String("order_id", req.OrderID), slog.String("err", err.Error()))
		p.reply(w, r, problem{Status: http.StatusInternalServerError, Title: "Invalid purchase",
			Detail: "the order cannot be paid: " + publicDetail(err)})
		return
	}
	if p.client.Version() == model.V1 && model.PayType(req.Channel) == model.PayAlipay &&
		(buy.ProfitSharing != "" || buy.ProfitSharingReceiver != "") {
		p.log.LogAttrs(ctx, slog.LevelError, "handler: Resolve asked for profit sharing on the legacy Alipay pre-order",
			slog.String("order_id", req.OrderID))
		p.reply(w, r, problem{Status: http.StatusInternalServerError, Title: "Invalid purchase",
			Detail: "the order cannot be paid: profit_sharing is not a field of the legacy Alipay pre-order"})
		return
	}
	ip, ok := p.buyerIP(r)
	if !ok {
		p.log.LogAttrs(ctx, slog.LevelError, "handler: PreOrderConfig.ClientIP returned no IP address",
			slog.String("order_id", req.OrderID))
		p.reply(w, r, problem{Status: http.StatusInternalServerError, Title: "Invalid purchase",
			Detail: "the order cannot be paid: mch_create_ip must be an IP address"})
		return
	}
	req.clientIP = ip
	// The gateway request is checked before anything is recorded: an
	// attempt that the client would refuse unsent would only hold one of
	// the order's open attempts.
	now := p.now()
	if err := model.Validate(p.gatewayRequest(req, buy, &store.Order{OutTradeNo: OutTradeNo(req.OrderID, 1), CreatedAt: now, ExpiresAt: expiryOf(now, buy.Expire)})); err != nil {
		p.reply(w, r, problem{Status: http.StatusUnprocessableEntity, Title: "Invalid pre-order request", Detail: publicDetail(err)})
		return
	}
	o, reused, perr := p.attempt(ctx, req, buy)
	if perr != nil {
		p.reply(w, r, *perr)
		return
	}
	if reused {
		status := http.StatusOK
		if o.CodeURL == "" && o.PayInfo == "" {
			status = http.StatusAccepted // joined an attempt whose outcome is not known yet
		}
		writeJSON(w, status, viewOf(o))
		return
	}
	p.callGateway(w, r, req, buy, o)
}

// reply writes a problem and logs it: 4xx at info (the caller's mistake,
// G8), 5xx at warn (details were logged where they arose).
func (p *PreOrder) reply(w http.ResponseWriter, r *http.Request, pr problem) {
	level := slog.LevelInfo
	if pr.Status >= 500 {
		level = slog.LevelWarn
	}
	p.log.LogAttrs(r.Context(), level, "handler: pre-order refused",
		slog.Int("status", pr.Status), slog.String("detail", pr.Detail),
		slog.String("out_trade_no", pr.OutTradeNo), slog.String("remote", r.RemoteAddr))
	writeProblem(w, pr)
}

// decode reads a JSON or form body, refusing any amount field.
func (p *PreOrder) decode(w http.ResponseWriter, r *http.Request) (preOrderRequest, *problem) {
	var req preOrderRequest
	if len(r.Header["Content-Type"]) > 1 {
		// Servers differ on which one counts: refuse, as every adapter does.
		return req, &problem{Status: http.StatusUnsupportedMediaType, Detail: "send one Content-Type"}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, p.maxBody))
	if err != nil {
		return req, &problem{Status: http.StatusRequestEntityTooLarge, Detail: "request body too large or unreadable"}
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/json":
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(body, &raw); err != nil {
			return req, &problem{Status: http.StatusBadRequest, Detail: "body is not a JSON object"}
		}
		for _, f := range forbiddenFields {
			if _, ok := raw[f]; ok {
				return req, amountProblem(f)
			}
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		if err := dec.Decode(&req); err != nil {
			return req, &problem{Status: http.StatusBadRequest, Detail: "fields must be JSON strings"}
		}
	case "application/x-www-form-urlencoded":
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return req, &problem{Status: http.StatusBadRequest, Detail: "body is not a valid form"}
		}
		for k, vs := range vals {
			if len(vs) > 1 {
				return req, &problem{Status: http.StatusBadRequest, Detail: fmt.Sprintf("%q is given more than once", k)}
			}
		}
		for _, f := range forbiddenFields {
			if vals.Has(f) {
				return req, amountProblem(f)
			}
		}
		req = preOrderRequest{
			OrderID: vals.Get("order_id"), Channel: vals.Get("channel"), TradeType: vals.Get("trade_type"),
			SubAppID: vals.Get("sub_appid"), BuyerID: vals.Get("buyer_id"),
			IsMinipg: vals.Get("is_minipg"), BuyerLogonID: vals.Get("buyer_logon_id"),
		}
	default:
		return req, &problem{Status: http.StatusUnsupportedMediaType, Detail: "post application/json or application/x-www-form-urlencoded"}
	}
	return req, nil
}

func amountProblem(field string) *problem {
	return &problem{Status: http.StatusBadRequest,
		Detail: fmt.Sprintf("%q is not accepted: the amount comes from the order, not the request", field)}
}

// validateRequest normalises and checks the posted fields: 400 for junk
// bytes, 422 for values that are not allowed.
func validateRequest(req *preOrderRequest) *problem {
	for _, f := range []struct{ name, value string }{
		{"order_id", req.OrderID}, {"channel", req.Channel}, {"trade_type", req.TradeType}, {"sub_appid", req.SubAppID},
		{"buyer_id", req.BuyerID}, {"is_minipg", req.IsMinipg}, {"buyer_logon_id", req.BuyerLogonID},
	} {
		if !printable(f.value) {
			return &problem{Status: http.StatusBadRequest, Detail: f.name + " must be printable UTF-8 without control characters"}
		}
	}
	req.Channel = strings.ToUpper(strings.TrimSpace(req.Channel))
	req.TradeType = strings.ToUpper(strings.TrimSpace(req.TradeType))
	if req.TradeType == "" {
		req.TradeType = model.TradeTypeNative
	}
	var bad []string
	if req.OrderID == "" || len(req.OrderID) > 128 {
		bad = append(bad, "order_id is required (at most 128 bytes)")
	}
	switch model.PayType(req.Channel) {
	case model.PayWeChat, model.PayAlipay, model.PayECNY:
	default:
		bad = append(bad, "channel must be WECHAT, ALIPAY or ECNY")
	}
	switch req.TradeType {
	case model.TradeTypeNative, model.TradeTypeJSPay, model.TradeTypeApp, model.TradeTypeAppBank:
	default:
		bad = append(bad, "trade_type must be NATIVE, JSPAY, APP or APP_BANK")
	}
	if req.IsMinipg != "" && req.IsMinipg != "0" && req.IsMinipg != "1" {
		bad = append(bad, "is_minipg must be 0 or 1")
	}
	if len(bad) > 0 {
		return &problem{Status: http.StatusUnprocessableEntity, Title: "Invalid pre-order request", Detail: strings.Join(bad, "; ")}
	}
	return nil
}

func (p *PreOrder) resolveProblem(r *http.Request, businessID string, err error) problem {
	switch {
	case errors.Is(err, ErrOrderNotFound):
		return problem{Status: http.StatusNotFound, Detail: publicDetail(err)}
	case errors.Is(err, ErrOrderNotPayable):
		return problem{Status: http.StatusConflict, Detail: publicDetail(err)}
	case errors.Is(err, ErrOrderInvalid):
		return problem{Status: http.StatusUnprocessableEntity, Detail: publicDetail(err)}
	}
	p.log.LogAttrs(r.Context(), slog.LevelError, "handler: Resolve failed",
		slog.String("order_id", businessID), slog.String("err", err.Error()))
	return problem{Status: http.StatusInternalServerError, Detail: "the order cannot be resolved now"}
}

// attempt returns a reusable PENDING attempt, or records a new one if
// fewer than maxOpen are open.
//
// The count and the insert are one compare-and-set although they are two
// store calls: attempts are numbered one after another, so Create of
// number next succeeds only if no attempt next exists, and no attempt
// above next can exist before it (whoever makes one must first have seen
// next). A successful Create therefore proves that the list counted is
// still the order's whole list, on every instance; a lost race reads the
// list again.
func (p *PreOrder) attempt(ctx context.Context, req preOrderRequest, buy Purchase) (*store.Order, bool, *problem) {
	for range 3 {
		list, err := p.store.ListByBusinessID(ctx, req.OrderID)
		if err != nil {
			return nil, false, p.storeProblem(ctx, err)
		}
		now := p.now()
		next, open := 1, 0
		var oldest time.Time
		for _, o := range list {
			// An abandoned attempt no longer holds the business order: a
			// payment that lands on it is a second payment, refunded, so
			// it neither blocks a new attempt nor counts as open.
			abandoned := !o.AbandonedAt.IsZero()
			if o.Status == store.Paid && !abandoned {
				return nil, false, &problem{Status: http.StatusConflict, Detail: "the order is already paid", OutTradeNo: o.OutTradeNo}
			}
			next = max(next, o.Attempt+1)
			if o.Status == store.Pending && !abandoned && now.Sub(o.CreatedAt) < p.openFor {
				if open == 0 || o.CreatedAt.Before(oldest) {
					oldest = o.CreatedAt
				}
				open++
			}
		}
		// Never "" for JSPAY, so a JSPAY attempt recorded before stores
		// kept the buyer (Buyer "": whose it is is unknown) is never shared.
		buyer := buyerOf(req)
		for i := len(list) - 1; i >= 0 && p.reuse > 0; i-- {
			o := list[i]
			if o.Status != store.Pending || !o.AbandonedAt.IsZero() || o.Buyer != buyer ||
				string(o.Channel) != req.Channel || o.TradeType != req.TradeType ||
				o.MchID != buy.MchID || o.Amount != buy.Amount || now.Sub(o.CreatedAt) >= p.reuse ||
				!o.ExpiresAt.IsZero() && o.ExpiresAt.Sub(now) < MinExpire {
				// An attempt about to expire is no checkout to hand out:
				// the buyer would scan a code the gateway is closing.
				continue
			}
			if hasCheckout(o) {
				return o, true, nil
			}
			if age := now.Sub(o.CreatedAt); age < checkoutWait {
				// Another request (here or on another instance) recorded
				// this attempt and is asking the gateway for it: share its
				// answer rather than start a second attempt.
				return p.awaitCheckout(ctx, o, checkoutWait-age)
			}
		}
		if open >= p.maxOpen {
			return nil, false, &problem{Status: http.StatusTooManyRequests, Title: "Too many open payment attempts",
				Detail: fmt.Sprintf("this order already has %d payment attempts open, the most allowed within %s: pay with one of them, or retry later",
					open, p.openFor),
				retryAfter: oldest.Add(p.openFor).Sub(now)}
		}
		o := &store.Order{
			OutTradeNo: OutTradeNo(req.OrderID, next),
			BusinessID: req.OrderID,
			Attempt:    next,
			MchID:      buy.MchID,
			Channel:    model.PayType(req.Channel),
			TradeType:  req.TradeType,
			Version:    p.client.Version(),
			Amount:     buy.Amount,
			Buyer:      buyer,
			Status:     store.Pending,
			CreatedAt:  now,
			UpdatedAt:  now,
			ExpiresAt:  expiryOf(now, buy.Expire),
			NextDue:    now.Add(firstQuery),
		}
		err = p.store.Create(ctx, o)
		if err == nil {
			p.hist.record(ctx, store.Event{OutTradeNo: o.OutTradeNo, At: now, Kind: store.EventCreated,
				Source: string(SourcePreOrder), Outcome: "ok", Amount: o.Amount,
				Detail: fmt.Sprintf("business_id=%s attempt=%d channel=%s trade_type=%s", o.BusinessID, o.Attempt, o.Channel, o.TradeType)})
		}
		if errors.Is(err, store.ErrExists) {
			continue // a concurrent request took this attempt number
		}
		if err != nil {
			return nil, false, p.storeProblem(ctx, err)
		}
		return o, false, nil
	}
	return nil, false, &problem{Status: http.StatusConflict, Detail: "concurrent payment attempts for this order; retry"}
}

// buyerOf returns the fingerprint recorded as store.Order.Buyer for a
// JSPAY request, and "" for any other trade type. A JSPAY attempt's
// pay_info is made for one buyer (the sub_appid and buyer_id it was
// pre-ordered with), so an identical request may share the attempt only
// when its buyer fields are the same; the fingerprint lets the handler
// tell, on whichever instance, from the store alone. It is a hash (the
// first 16 bytes of SHA-256, in hex) so that the store keeps no raw buyer
// id, over the fields length-prefixed, so that ("ab", "c") and ("a", "bc")
// differ. The fields are taken as the request gives them: "0" and an
// absent is_minipg are different buyers here, which costs at most an
// attempt.
func buyerOf(req preOrderRequest) string {
	if req.TradeType != model.TradeTypeJSPay {
		return ""
	}
	h := sha256.New()
	for _, f := range []string{req.SubAppID, req.BuyerID, req.IsMinipg, req.BuyerLogonID} {
		fmt.Fprintf(h, "%d:%s", len(f), f)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// hasCheckout says whether attempt o has what its buyer pays with: a
// JSPAY attempt its pay_info, any other its code_url (NATIVE). APP
// attempts are never reused once answered, as before: nothing says whose
// their pay_info may be.
func hasCheckout(o *store.Order) bool {
	if o.TradeType == model.TradeTypeJSPay {
		return o.PayInfo != ""
	}
	return o.CodeURL != ""
}

// checkoutWait is how long after an attempt is recorded an identical
// request waits for its checkout instead of starting another attempt: a
// little beyond a gateway call's usual timeout.
const checkoutWait = 15 * time.Second

// awaitCheckout waits, at most wait, for attempt o (recorded by a
// concurrent request, maybe on another instance) to get its checkout, by
// rereading it from the store, the one thing all instances share. If it
// gets none in time the reply is the attempt as it stands (202 from the
// caller's view: the outcome is not known yet).
func (p *PreOrder) awaitCheckout(ctx context.Context, o *store.Order, wait time.Duration) (*store.Order, bool, *problem) {
	give := time.NewTimer(wait)
	defer give.Stop()
	pause := 5 * time.Millisecond
	for {
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, false, &problem{Status: http.StatusServiceUnavailable, Detail: "the request ended before the payment attempt was ready"}
		case <-give.C:
			t.Stop()
			return o, true, nil
		case <-t.C:
		}
		pause = min(2*pause, 200*time.Millisecond)
		cur, err := p.store.Get(ctx, o.OutTradeNo)
		if err != nil {
			return nil, false, p.storeProblem(ctx, err)
		}
		switch {
		case cur.Status != store.Pending || !cur.AbandonedAt.IsZero():
			return nil, false, &problem{Status: http.StatusConflict, OutTradeNo: cur.OutTradeNo,
				Detail: "a concurrent payment attempt for this order ended (" + string(cur.Status) + "); retry"}
		case cur.CodeURL != "" || cur.PayInfo != "":
			return cur, true, nil
		}
		o = cur
	}
}

func (p *PreOrder) storeProblem(ctx context.Context, err error) *problem {
	p.log.LogAttrs(ctx, slog.LevelError, "handler: pre-order store failure", slog.String("err", err.Error()))
	return &problem{Status: http.StatusInternalServerError, Detail: "the order store failed"}
}

// OutTradeNo returns the out_trade_no of a business order's attempt: the
// business id followed by the attempt as two digits when the id is
// alphanumeric and 3–30 characters long and the attempt is at most 99 (so
// the result fits ^[A-Za-z0-9]{5,32}$), else the first 20 hex digits
// (upper case) of the id's SHA-256 followed by the attempt in at least two
// digits, which fits 32 characters up to attempt 999,999,999,999. Both
// forms are deterministic, so the attempts of one business order can be
// recomputed; the fixed width keeps "A1"+"11" and "A11"+"1" apart, which
// is why an attempt past 99 never lengthens the id form ("A1"+"101" would
// be "A11"+"01").
func OutTradeNo(businessID string, attempt int) string {
	suffix := fmt.Sprintf("%02d", attempt)
	if len(businessID) >= 3 && len(businessID) <= 30 && isAlnum(businessID) && attempt <= 99 {
		return businessID + suffix
	}
	sum := sha256.Sum256([]byte(businessID))
	return strings.ToUpper(hex.EncodeToString(sum[:10])) + suffix
}

// expiryOf is the ExpiresAt of an attempt created at now that lives d:
// whole seconds, as time_expire says it, so that the gateway's expiry is
// never later than the one recorded here.
func expiryOf(now time.Time, d time.Duration) time.Time {
	return now.Add(d).Truncate(time.Second)
}

// gatewayRequest is the pre-order sent to the gateway for attempt o of a
// business order. It carries time_start and time_expire together: Alipay
// ignores either one sent alone.
func (p *PreOrder) gatewayRequest(req preOrderRequest, buy Purchase, o *store.Order) *model.PreOrderRequest {
	outTradeNo := o.OutTradeNo
	productID := buy.ProductID
	if productID == "" {
		productID = outTradeNo
	}
	goods, _ := model.EncodeGoods(buy.Goods) // serve ran buy.Validate
	goodsTag := buy.GoodsTag
	if model.PayType(req.Channel) == model.PayECNY {
		goodsTag = "" // the gateway forbids goods_tag for e-CNY
	}
	return &model.PreOrderRequest{
		Channel:               model.PayType(req.Channel),
		MchID:                 buy.MchID,
		SubAppID:              req.SubAppID,
		IsMinipg:              req.IsMinipg,
		BuyerID:               req.BuyerID,
		BuyerLogonID:          req.BuyerLogonID,
		DeviceInfo:            buy.DeviceInfo,
		Body:                  buy.Body,
		Attach:                buy.Attach,
		OutTradeNo:            outTradeNo,
		TotalFee:              buy.Amount,
		MchCreateIP:           req.clientIP,
		NotifyURL:             p.notifyURL,
		OpShopID:              buy.OpShopID,
		OpUserID:              buy.OpUserID,
		LimitPay:              buy.LimitPay,
		TradeType:             req.TradeType,
		ProductID:             productID,
		GoodsTag:              goodsTag,
		GoodsDetail:           goods,
		ProfitSharing:         buy.ProfitSharing,
		ProfitSharingReceiver: buy.ProfitSharingReceiver,
		TimeStart:             model.FormatTime(o.CreatedAt),
		TimeExpire:            model.FormatTime(o.ExpiresAt),
	}
}

// callGateway sends the pre-order for a recorded attempt and replies.
func (p *PreOrder) callGateway(w http.ResponseWriter, r *http.Request, req preOrderRequest, buy Purchase, o *store.Order) {
	ctx := r.Context()
	// Once recorded, the attempt is sent even if the browser goes away:
	// an attempt that never reached the gateway would only hold one of
	// the order's open attempts, and a caller that hangs up at once could
	// hold them all.
	gctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), checkoutWait)
	defer cancel()
	resp, err := p.client.PreOrder(gctx, p.gatewayRequest(req, buy, o))
	if err != nil {
		p.gatewayFailed(w, r, o, err)
		return
	}
	// Record the checkout even if the browser has gone: the attempt lives on.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := p.store.SetCheckout(sctx, o.OutTradeNo, resp.CodeURL, resp.PayInfo, p.now()); err != nil {
		p.log.LogAttrs(ctx, slog.LevelError, "handler: recording the checkout failed",
			slog.String("out_trade_no", o.OutTradeNo), slog.String("err", err.Error()))
	}
	p.hist.record(ctx, store.Event{OutTradeNo: o.OutTradeNo, At: p.now(), Kind: store.EventPreOrdered,
		Source: string(SourcePreOrder), Outcome: "ok", Amount: o.Amount})
	o.CodeURL, o.PayInfo = resp.CodeURL, resp.PayInfo
	writeJSON(w, http.StatusCreated, viewOf(o))
}

// gatewayFailed maps a pre-order failure to a reply and to the attempt's
// fate: uncertain outcomes stay PENDING for the Reconciler; definite
// refusals are recorded FAILED.
func (p *PreOrder) gatewayFailed(w http.ResponseWriter, r *http.Request, o *store.Order, err error) {
	ctx := r.Context()
	log := func(level slog.Level, msg string) {
		p.log.LogAttrs(ctx, level, msg, slog.String("out_trade_no", o.OutTradeNo), slog.String("err", err.Error()))
	}
	var ge *client.GatewayError
	errors.As(err, &ge)
	if client.Unverifiable(err) {
		// An unsigned, badly signed or re-cut "success" may carry a
		// code_url or pay_info of someone else's making: it is never shown
		// (guarantee G14). The gateway may have the order, so the attempt
		// stays PENDING for the reconciler.
		log(slog.LevelError, "handler: pre-order reply does not verify; nothing shown, left PENDING for the reconciler")
		p.reply(w, r, problem{Status: http.StatusBadGateway, OutTradeNo: o.OutTradeNo, Title: "Gateway reply not verified",
			Detail: "the payment gateway's reply could not be verified, so no payment was started; try again"})
		return
	}
	if client.Uncertain(err) {
		log(slog.LevelWarn, "handler: pre-order outcome unknown; left PENDING for the reconciler")
		writeJSON(w, http.StatusAccepted, viewOf(o))
		return
	}
	pr := problem{Status: http.StatusBadGateway, OutTradeNo: o.OutTradeNo, Title: "Gateway refused the pre-order", Detail: "the payment gateway refused the pre-order"}
	if ge != nil {
		pr.Code, pr.Msg = string(ge.Code), ge.Msg
	}
	switch {
	case errors.Is(err, client.ErrUnknownMerchant):
		// The host's key configuration, never sent: the buyer can do
		// nothing about it, and it is no business of theirs.
		log(slog.LevelError, "handler: no key for the order's merchant; pre-order not sent")
		pr.Status, pr.Title, pr.Detail = http.StatusInternalServerError, "Payment unavailable", "the shop cannot take this payment now"
	case errors.Is(err, client.ErrBadRequest):
		pr.Status, pr.Title = http.StatusUnprocessableEntity, "Invalid pre-order"
		if ge == nil {
			// Refused before sending: the message names the field.
			pr.Detail = publicDetail(err)
		}
	case errors.Is(err, client.ErrMerchantConfig), errors.Is(err, client.ErrGateway),
		errors.Is(err, client.ErrNotFound):
	default:
		// Not known to be refused: the gateway may have the order.
		log(slog.LevelError, "handler: pre-order failed; left PENDING for the reconciler")
		pr.Detail = "the gateway call failed"
		p.reply(w, r, pr)
		return
	}
	log(slog.LevelWarn, "handler: pre-order refused")
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if ferr := p.store.Finish(fctx, o.OutTradeNo, store.Failed, "pre-order refused: "+reasonOf(ge, err), p.now()); ferr != nil {
		p.log.LogAttrs(ctx, slog.LevelError, "handler: recording the refused pre-order failed",
			slog.String("out_trade_no", o.OutTradeNo), slog.String("err", ferr.Error()))
	}
	p.hist.record(ctx, store.Event{OutTradeNo: o.OutTradeNo, At: p.now(), Kind: store.EventPreOrdered,
		Source: string(SourcePreOrder), Outcome: "refused", Amount: o.Amount, Detail: "pre-order refused: " + reasonOf(ge, err)})
	p.reply(w, r, pr)
}

func reasonOf(ge *client.GatewayError, err error) string {
	if ge != nil {
		return "code " + string(ge.Code) + " " + strconv.Quote(ge.Msg)
	}
	return err.Error()
}

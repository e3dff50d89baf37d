package middleware

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/cypaykit/kit/client"
	"github.com/cypaykit/kit/internal/formpost"
	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/sign"
)

// DefaultMaxBody is the notification body limit when VerifyConfig.MaxBody
// is zero. The largest documented notification is well under 4 KiB.
const DefaultMaxBody int64 = 64 << 10

// DefaultBodyTimeout bounds a notification body's arrival when
// VerifyConfig.BodyTimeout is zero: the gateway sends a few hundred bytes
// at once and gives up on the reply after 3 s.
const DefaultBodyTimeout = 2 * time.Second

// Reasons a notification is rejected. They appear in the log line
// (attribute "reason") and never carry keys or body text.
var (
	errKeys   = errors.New("middleware: key lookup failed")
	errSign   = errors.New("middleware: signature does not verify")
	errDecode = errors.New("middleware: notification does not decode")
)

// VerifyConfig configures VerifyNotification. Every field documents its
// zero value.
type VerifyConfig struct {
	// Keys are the keys that may sign a notification, in the vocabulary
	// handler.NotifyConfig uses: AgentKey for orders made through the v1
	// or legacy endpoints, MerchantKeys (by the notification's mch_id) for
	// v2. Required: AgentKey or MerchantKeys must be set.
	//
	// mch_id is read from the notification before its signature is
	// checked, so it is attacker-controlled: MerchantKeys must return keys
	// only for merchants the host knows, and client.ErrUnknownMerchant (or
	// no keys) otherwise; an unknown merchant is answered 401 like a bad
	// sign. A blank or padded key slot is never verified with. Any other
	// error answers "fail" with status 500, so that the gateway retries
	// later, and keys returned beside it are not tried.
	Keys client.Keyring
	// Algorithm is the configured sign algorithm; it is never taken from
	// the payload. Zero means sign.MD5.
	Algorithm sign.Algorithm
	// MaxBody caps the body in bytes. Zero means DefaultMaxBody; negative
	// is an error.
	MaxBody int64
	// BodyTimeout bounds the time from the request reaching the
	// middleware to its whole body being read; a body still arriving then
	// is refused (408, "fail") and its connection closed, so that senders
	// trickling bytes cannot pile up connections. Zero means
	// DefaultBodyTimeout; negative is an error.
	BodyTimeout time.Duration
	// Logger receives one line per rejected notification. Nil means
	// slog.Default().
	Logger *slog.Logger
}

type notificationKey struct{}

// verified is what VerifyNotification hands next through the context.
type verified struct {
	n                     *model.Notification
	merchantKey, agentKey bool
}

// NotificationFromContext returns the notification that
// VerifyNotification verified for this request.
func NotificationFromContext(ctx context.Context) (*model.Notification, bool) {
	v, ok := ctx.Value(notificationKey{}).(*verified)
	if !ok || v.n == nil {
		return nil, false
	}
	return v.n, true
}

// SignedWith reports which kind of key the notification of this request
// verified under: one of its merchant's keys (VerifyConfig.Keys.
// MerchantKeys, v2), the agent key (v1), or both when a host gave a
// merchant the agent key too. Before it changes an order, next must
// require the kind of key the order was made with — the merchant's for a
// v2 order, the agent's for a v1 one — as handler.Notify does: under v1
// the agent key signs every merchant's traffic. Outside a verified
// request both are false.
func SignedWith(ctx context.Context) (merchantKey, agentKey bool) {
	v, ok := ctx.Value(notificationKey{}).(*verified)
	if !ok {
		return false, false
	}
	return v.merchantKey, v.agentKey
}

// VerifyNotification returns middleware for a host's own notification
// handler. It reads the POST body once (at most MaxBody bytes), parses it
// as a form without ever looking at the query string, verifies its sign
// with the keys Keys holds for its mch_id, and hands the decoded
// notification to next through the request context (see
// NotificationFromContext).
//
// For next, r.Body is replaced by a reader over the same bytes and
// r.PostForm holds the verified values, so r.PostFormValue reads only
// signed data. r.Form and r.FormValue would merge in the unsigned query
// string: do not use them.
//
// A request that is not a POST (405), not a form (415), too large (413),
// not fully received within BodyTimeout (408), malformed, repeats a name
// or is not UTF-8 (400), has a decided field (state, result_code,
// pay_result, mch_id, out_trade_no, transaction_id, out_transaction_id,
// total_fee, time_end) that is blank, missing where the notification's
// meaning needs it, or not strictly shaped (400; see
// model.CheckNotification), or fails verification
// (401) never reaches next: it is answered with the literal body "fail"
// (text/plain, 4 bytes; the statuses match package handler's) and logged
// without its body.
//
// Shape, keys and sign are checked by client.Keyring.VerifyNotification,
// the same pipeline handler.Notify runs, so both refuse the same
// messages. A verified notification can still be a failure (pay_result
// other than 0), a duplicate, or signed with a key of the wrong kind for
// its order (see SignedWith): next decides what it means for the order,
// and only next replies "success".
func VerifyNotification(cfg VerifyConfig) (func(http.Handler) http.Handler, error) {
	if err := cfg.Keys.Validate(); err != nil {
		return nil, fmt.Errorf("middleware: VerifyConfig.Keys: %w", err)
	}
	alg, err := sign.ParseAlgorithm(string(cfg.Algorithm))
	if err != nil {
		return nil, fmt.Errorf("middleware: VerifyConfig.Algorithm: %w", err)
	}
	cfg.Algorithm = alg
	switch {
	case cfg.MaxBody < 0:
		return nil, fmt.Errorf("middleware: VerifyConfig.MaxBody is negative (%d)", cfg.MaxBody)
	case cfg.MaxBody == 0:
		cfg.MaxBody = DefaultMaxBody
	}
	switch {
	case cfg.BodyTimeout < 0:
		return nil, fmt.Errorf("middleware: VerifyConfig.BodyTimeout is negative (%v)", cfg.BodyTimeout)
	case cfg.BodyTimeout == 0:
		cfg.BodyTimeout = DefaultBodyTimeout
	}
	v := &verifier{cfg: cfg, log: orDefault(cfg.Logger)}
	return v.middleware, nil
}

type verifier struct {
	cfg VerifyConfig
	log *slog.Logger
}

func (v *verifier) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, values, got, status, err := v.verify(w, r)
		if err != nil {
			v.log.LogAttrs(r.Context(), slog.LevelWarn, "notification rejected",
				slog.String("reason", err.Error()),
				slog.String("path", r.URL.Path),
				slog.String("remote", r.RemoteAddr),
				slog.Int("status", status))
			if status == http.StatusMethodNotAllowed {
				w.Header().Set("Allow", http.MethodPost)
			}
			writeFail(w, status)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), notificationKey{}, got))
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.PostForm = values
		next.ServeHTTP(w, r)
	})
}

// verify reads and checks the notification. On failure it returns the
// status to answer with.
func (v *verifier) verify(w http.ResponseWriter, r *http.Request) ([]byte, url.Values, *verified, int, error) {
	body, values, status, err := formpost.ReadBy(w, r, v.cfg.MaxBody, time.Now().Add(v.cfg.BodyTimeout))
	if err != nil {
		return nil, nil, nil, status, fmt.Errorf("middleware: %w", err)
	}
	// The pipeline handler.Notify uses: shape (before the sign, since a
	// re-cut message keeps its sign: guarantee G10), then the keys that
	// may sign for the mch_id, then the sign (G14: never a blank key; a
	// key lookup that fails verifies against nothing).
	key, merchantKey, err := v.cfg.Keys.VerifyNotification(r.Context(), values, v.cfg.Algorithm)
	switch {
	case errors.Is(err, client.ErrNotificationShape):
		return nil, nil, nil, http.StatusBadRequest, fmt.Errorf("%w (%w)", errDecode, err)
	case errors.Is(err, client.ErrKeyLookup):
		return nil, nil, nil, http.StatusInternalServerError, errKeys
	case err != nil:
		// ErrNoKey lands here too: an unknown merchant is a forgery as far
		// as the gateway's sender is concerned.
		return nil, nil, nil, http.StatusUnauthorized, fmt.Errorf("%w (%w)", errSign, err)
	}
	n, err := model.DecodeNotification(values)
	if err != nil {
		return nil, nil, nil, http.StatusBadRequest, errDecode
	}
	return body, values, &verified{n: n, merchantKey: merchantKey, agentKey: key == v.cfg.Keys.AgentKey}, 0, nil
}

package gatewaytest

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/sign"
)

// maxBody bounds a request body; the largest real request is a few KB.
const maxBody = 1 << 20

// request is a verified gateway request.
type request struct {
	version model.Version
	form    url.Values // the POST form, never the query string
	key     string     // the key that verified it and signs the reply
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/v2/UnifiedPay/Gateway", func(w http.ResponseWriter, r *http.Request) {
		s.serve(w, r, model.V2, "")
	})
	mux.HandleFunc("/UnifiedPay/Gateway", func(w http.ResponseWriter, r *http.Request) {
		s.serve(w, r, model.V1, "")
	})
	mux.HandleFunc("/Open/WECHAT_PreOrder", func(w http.ResponseWriter, r *http.Request) {
		s.serve(w, r, model.V1, model.PayWeChat)
	})
	mux.HandleFunc("/Open/ALIPAY_PreOrder", func(w http.ResponseWriter, r *http.Request) {
		s.serve(w, r, model.V1, model.PayAlipay)
	})
	if s.cfg.ControlEndpoints {
		s.controlRoutes(mux)
	}
	return mux
}

// serve checks a request in the gateway's order — sign (20002), then
// parameters (20004), then merchant (20005) and agent (20012) — and
// dispatches it. open is the channel of a legacy /Open endpoint, which
// has no method parameter.
//
// The key depends on who is asking, so some identity checks must come
// first: a v2 request without mch_id is 20004 and one with an unknown
// mch_id is 20005 before its sign can be checked; a v1 request without
// agent_id is 20004 and one with a wrong agent_id is 20012.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, v model.Version, open model.PayType) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		writeFail(w, model.CodeBadParam, "body")
		return
	}
	form := r.PostForm
	if !hasSign(form) {
		writeFail(w, model.CodeSignError, "")
		return
	}
	for k, vs := range form {
		if len(vs) > 1 {
			writeFail(w, model.CodeBadParam, k+" given twice")
			return
		}
	}
	rq := &request{version: v, form: form}
	if v == model.V2 {
		mch := form.Get("mch_id")
		if mch == "" {
			writeFail(w, model.CodeBadParam, "mch_id")
			return
		}
		key, ok := s.cfg.Merchants[mch]
		if !ok {
			writeFail(w, model.CodeMerchantError, "")
			return
		}
		rq.key = key
	} else {
		agent := form.Get("agent_id")
		if agent == "" {
			writeFail(w, model.CodeBadParam, "agent_id")
			return
		}
		if s.cfg.AgentID == "" || s.cfg.AgentKey == "" || agent != s.cfg.AgentID {
			writeFail(w, model.CodeAgentError, "")
			return
		}
		rq.key = s.cfg.AgentKey
	}
	if err := sign.Verify(form, s.alg(), rq.key); err != nil {
		if errors.Is(err, sign.ErrMalformed) {
			writeFail(w, model.CodeBadParam, "")
			return
		}
		writeFail(w, model.CodeSignError, "")
		return
	}
	for _, p := range []string{"pid", "version"} {
		if strings.TrimSpace(form.Get(p)) == "" {
			writeFail(w, model.CodeBadParam, p)
			return
		}
	}
	if open != "" {
		s.preOrder(w, rq, open)
		return
	}
	switch strings.ToLower(form.Get("method")) {
	case "preorder_wechat":
		s.preOrder(w, rq, model.PayWeChat)
	case "preorder_alipay":
		s.preOrder(w, rq, model.PayAlipay)
	case "preorder_ecny":
		s.preOrder(w, rq, model.PayECNY)
	case "orderquery":
		s.orderQuery(w, rq)
	case "cancel":
		s.cancelOrder(w, rq)
	case "refund":
		s.refund(w, rq)
	case "refundquery":
		s.refundQuery(w, rq)
	default:
		writeFail(w, model.CodeBadParam, "method")
	}
}

func hasSign(form url.Values) bool {
	for k, vs := range form {
		if strings.EqualFold(k, sign.Param) && len(vs) > 0 && vs[0] != "" {
			return true
		}
	}
	return false
}

// decode fills dst from the form and, when check is set, validates it,
// answering 20004 and returning false when it cannot.
func decode(w http.ResponseWriter, rq *request, dst any, check bool) bool {
	if err := model.Decode(dst, rq.form); err != nil {
		writeFail(w, model.CodeBadParam, "")
		return false
	}
	if check {
		return valid(w, dst)
	}
	return true
}

// valid checks a decoded request with model.Validate, answering 20004
// naming the broken fields (never their values) when it fails.
func valid(w http.ResponseWriter, v any) bool {
	err := model.Validate(v)
	if err == nil {
		return true
	}
	var ve *model.ValidationError
	var names []string
	if errors.As(err, &ve) {
		for _, f := range ve.Fields {
			names = append(names, f.Field)
		}
	}
	writeFail(w, model.CodeBadParam, strings.Join(names, ","))
	return false
}

// knownMerchant answers 20005 for a merchant the simulator does not know
// (reachable on v1, where the agent key verified the request).
func (s *Server) knownMerchant(w http.ResponseWriter, mchID string) bool {
	if _, ok := s.cfg.Merchants[mchID]; !ok {
		writeFail(w, model.CodeMerchantError, "")
		return false
	}
	return true
}

// writeFail answers a failed request: state FAIL, the code, its Chinese
// meaning as msg, and no sign, as the gateway does. detail names a field,
// never a value.
func writeFail(w http.ResponseWriter, code model.Code, detail string) {
	m, _ := code.Meaning()
	msg := m.ZH
	if detail != "" {
		msg += ":" + detail
	}
	writeJSON(w, http.StatusOK, map[string]string{
		"state": string(model.StateFail),
		"code":  string(code),
		"msg":   msg,
	})
}

// writeSigned answers with state SUCCESS, the code and trade state, and
// fields, signed with the request's key over every top-level member.
func (s *Server) writeSigned(w http.ResponseWriter, rq *request, code model.Code, ts model.TradeState, fields map[string]string) {
	out := make(map[string]string, len(fields)+5)
	for k, v := range fields {
		if v != "" {
			out[k] = v
		}
	}
	msg := "SUCCESS"
	if code != model.CodeSuccess {
		m, _ := code.Meaning()
		msg = m.ZH
	}
	out["state"] = string(model.StateSuccess)
	out["code"] = string(code)
	out["msg"] = msg
	out["trade_state"] = string(ts)
	sg, err := sign.SignMap(out, rq.key, s.alg())
	if err != nil {
		writeFail(w, model.CodeSystemError, "")
		return
	}
	out[sign.Param] = sg
	writeJSON(w, http.StatusOK, out)
}

func writeJSON(w http.ResponseWriter, status int, v map[string]string) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encode", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b)
}

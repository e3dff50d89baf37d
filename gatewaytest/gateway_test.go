package gatewaytest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/sign"
)

func TestPreOrderRoutes(t *testing.T) {
	t.Parallel()
	s := RunT(t, fastConfig())
	tests := []struct {
		name, path string
		params     url.Values
		key        string
		version    model.Version
		channel    model.PayType
		codeURL    string
	}{
		{"v2 wechat", "/v2/UnifiedPay/Gateway", v2("PreOrder_WECHAT", preOrderParams(mch1, "RT00001", "")...), key1, model.V2, model.PayWeChat, "weixin://wxpay/bizpayurl?pr="},
		{"v2 alipay", "/v2/UnifiedPay/Gateway", v2("PreOrder_ALIPAY", preOrderParams(mch2, "RT00002", "")...), key2, model.V2, model.PayAlipay, "https://qr.alipay.com/bax"},
		{"v2 ecny", "/v2/UnifiedPay/Gateway", v2("PreOrder_ECNY", preOrderParams(mch1, "RT00003", "")...), key1, model.V2, model.PayECNY, "https://qr.pbcdci.cn/"},
		{"v2 method in other case", "/v2/UnifiedPay/Gateway", v2("preorder_wechat", preOrderParams(mch1, "RT00004", "")...), key1, model.V2, model.PayWeChat, "weixin://"},
		{"v1 gateway", "/UnifiedPay/Gateway", v1("PreOrder_ALIPAY", preOrderParams(mch1, "RT00005", "")...), agentK, model.V1, model.PayAlipay, "https://qr.alipay.com/"},
		{"open wechat", "/Open/WECHAT_PreOrder", v1("", preOrderParams(mch1, "RT00006", "")...), agentK, model.V1, model.PayWeChat, "weixin://"},
		{"open alipay", "/Open/ALIPAY_PreOrder", v1("", preOrderParams(mch2, "RT00007", "")...), agentK, model.V1, model.PayAlipay, "https://qr.alipay.com/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, s.URL, tt.path, tt.params, tt.key)
			if r["state"] != "SUCCESS" || r["code"] != "10000" || r["msg"] != "SUCCESS" || r["trade_state"] != "SUCCESS" {
				t.Fatalf("got %v, want SUCCESS/10000/SUCCESS/SUCCESS", r)
			}
			if !isSigned(r, tt.key) {
				t.Errorf("reply does not verify with the request's key: %v", r)
			}
			if r["mch_id"] != tt.params.Get("mch_id") || r["out_trade_no"] != tt.params.Get("out_trade_no") || r["nonce_str"] == "" {
				t.Errorf("got %v, want mch_id, out_trade_no and nonce_str", r)
			}
			if !strings.HasPrefix(r["code_url"], tt.codeURL) || len(r["code_url"]) <= len(tt.codeURL) {
				t.Errorf("got code_url %q, want prefix %q", r["code_url"], tt.codeURL)
			}
			o, ok := s.Order(tt.params.Get("out_trade_no"))
			if !ok || o.Version != tt.version || o.Channel != tt.channel || o.State != Unpaid || o.Amount != 100 {
				t.Errorf("got order %+v (found %v), want %s %s UNPAID 100", o, ok, tt.version, tt.channel)
			}
		})
	}
}

func TestPreOrderJSPay(t *testing.T) {
	t.Parallel()
	s := RunT(t, fastConfig())
	jspay := func(method, out string) url.Values {
		p := v2(method, preOrderParams(mch1, out, "")...)
		p.Set("trade_type", "JSPAY")
		p.Set("sub_appid", "wx1234567890abcdef")
		p.Set("buyer_id", "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o")
		return p
	}
	t.Run("wechat", func(t *testing.T) {
		r := call(t, s.URL, "/v2/UnifiedPay/Gateway", jspay("PreOrder_WECHAT", "JS00001"), key1)
		var info map[string]string
		if err := json.Unmarshal([]byte(r["pay_info"]), &info); err != nil {
			t.Fatalf("pay_info %q: %v", r["pay_info"], err)
		}
		for _, k := range []string{"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"} {
			if info[k] == "" {
				t.Errorf("pay_info lacks %s: %v", k, info)
			}
		}
		if info["appId"] != "wx1234567890abcdef" || !strings.HasPrefix(info["package"], "prepay_id=") || info["signType"] != "MD5" {
			t.Errorf("got pay_info %v", info)
		}
		if r["code_url"] != "" || !isSigned(r, key1) {
			t.Errorf("got %v, want signed reply without code_url", r)
		}
	})
	t.Run("alipay", func(t *testing.T) {
		r := call(t, s.URL, "/v2/UnifiedPay/Gateway", jspay("PreOrder_ALIPAY", "JS00002"), key1)
		var info map[string]string
		if err := json.Unmarshal([]byte(r["pay_info"]), &info); err != nil || info["tradeNO"] == "" {
			t.Fatalf("got pay_info %q, want {\"tradeNO\":…}", r["pay_info"])
		}
	})
}

func TestRequestErrors(t *testing.T) {
	t.Parallel()
	s := RunT(t, fastConfig())
	good := func() url.Values { return v2("PreOrder_WECHAT", preOrderParams(mch1, "ER00001", "")...) }
	signed := func(v url.Values, key string) url.Values {
		sg, err := sign.Sign(v, key, sign.MD5)
		if err != nil {
			t.Fatal(err)
		}
		v.Set("sign", sg)
		return v
	}
	tests := []struct {
		name, path string
		params     url.Values
		key        string
		code       string
	}{
		{"missing sign", "/v2/UnifiedPay/Gateway", good(), "", "20002"},
		{"wrong key", "/v2/UnifiedPay/Gateway", good(), key2, "20002"},
		{"garbage sign", "/v2/UnifiedPay/Gateway", func() url.Values { v := good(); v.Set("sign", "XYZ"); return v }(), "", "20002"},
		{"tampered after signing", "/v2/UnifiedPay/Gateway", func() url.Values { v := signed(good(), key1); v.Set("total_fee", "1"); return v }(), "", "20002"},
		{"v1 signed with merchant key", "/UnifiedPay/Gateway", v1("orderquery", "mch_id", mch1, "paytype", "WECHAT", "out_trade_no", "ER00009"), key1, "20002"},
		{"duplicated name", "/v2/UnifiedPay/Gateway", func() url.Values { v := signed(good(), key1); v.Add("body", "x"); return v }(), "", "20004"},
		{"missing pid", "/v2/UnifiedPay/Gateway", func() url.Values { v := good(); v.Del("pid"); return v }(), key1, "20004"},
		{"missing version", "/v2/UnifiedPay/Gateway", func() url.Values { v := good(); v.Del("version"); return v }(), key1, "20004"},
		{"unknown method", "/v2/UnifiedPay/Gateway", v2("micropay", "mch_id", mch1), key1, "20004"},
		{"missing mch_id", "/v2/UnifiedPay/Gateway", v2("orderquery", "paytype", "WECHAT", "out_trade_no", "ER00009"), key1, "20004"},
		{"total_fee not a number", "/v2/UnifiedPay/Gateway", func() url.Values { v := good(); v.Set("total_fee", "1.5"); return v }(), key1, "20004"},
		{"unknown merchant v2", "/v2/UnifiedPay/Gateway", v2("orderquery", "mch_id", "99999999", "paytype", "WECHAT", "out_trade_no", "ER00009"), key1, "20005"},
		{"unknown merchant v1", "/UnifiedPay/Gateway", v1("orderquery", "mch_id", "99999999", "paytype", "WECHAT", "out_trade_no", "ER00009"), agentK, "20005"},
		{"wrong agent", "/UnifiedPay/Gateway", func() url.Values { v := v1("orderquery", "mch_id", mch1); v.Set("agent_id", "1"); return v }(), agentK, "20012"},
		{"v1 without agent_id", "/UnifiedPay/Gateway", v2("orderquery", "mch_id", mch1), agentK, "20004"},
		{"open wrong agent", "/Open/WECHAT_PreOrder", func() url.Values {
			v := v1("", preOrderParams(mch1, "ER00002", "")...)
			v.Set("agent_id", "2")
			return v
		}(), agentK, "20012"},
		{"unknown order", "/v2/UnifiedPay/Gateway", v2("orderquery", "mch_id", mch1, "paytype", "WECHAT", "out_trade_no", "NOSUCH001"), key1, "20007"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, s.URL, tt.path, tt.params, tt.key)
			expectFail(t, r, tt.code)
			if tt.code == "20002" && r["msg"] != "签名错误" {
				t.Errorf("got msg %q, want 签名错误", r["msg"])
			}
		})
	}
	if _, ok := s.Order("ER00001"); ok {
		t.Error("a rejected pre-order created an order")
	}
}

func TestInvalidParameters(t *testing.T) {
	t.Parallel()
	s := RunT(t, fastConfig())
	pre := func(method string, kv ...string) url.Values {
		v := v2(method, preOrderParams(mch1, "IV00001", "")...)
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				v.Del(kv[i])
			} else {
				v.Set(kv[i], kv[i+1])
			}
		}
		return v
	}
	tests := []struct {
		name   string
		params url.Values
		field  string // named in msg
	}{
		{"out_trade_no too short", pre("PreOrder_WECHAT", "out_trade_no", "AB12"), "out_trade_no"},
		{"out_trade_no with a dash", pre("PreOrder_WECHAT", "out_trade_no", "AB-1234"), "out_trade_no"},
		{"total_fee zero", pre("PreOrder_WECHAT", "total_fee", "0"), "total_fee"},
		{"total_fee negative", pre("PreOrder_WECHAT", "total_fee", "-5"), "total_fee"},
		{"body missing", pre("PreOrder_WECHAT", "body", ""), "body"},
		{"trade_type unknown", pre("PreOrder_WECHAT", "trade_type", "MICROPAY"), "trade_type"},
		{"NATIVE without product_id", pre("PreOrder_ALIPAY", "product_id", ""), "product_id"},
		{"WeChat JSPAY without sub_appid", pre("PreOrder_WECHAT", "trade_type", "JSPAY", "buyer_id", "o1"), "sub_appid"},
		{"e-CNY with goods_tag", pre("PreOrder_ECNY", "goods_tag", "WXG"), "goods_tag"},
		{"notify_url with a query", pre("PreOrder_WECHAT", "notify_url", "http://shop.example/n?a=1"), "notify_url"},
		{"orderquery bad paytype", v2("orderquery", "mch_id", mch1, "paytype", "QQ", "out_trade_no", "IV00002"), "paytype"},
		{"orderquery without ids", v2("orderquery", "mch_id", mch1, "paytype", "WECHAT"), "out_trade_no"},
		{"cancel without out_trade_no", v2("cancel", "mch_id", mch1, "paytype", "WECHAT"), "out_trade_no"},
		{"refund over total_fee", v2("refund", "mch_id", mch1, "paytype", "WECHAT", "out_trade_no", "IV00002", "out_refund_no", "R1", "total_fee", "1", "refund_fee", "2"), "refund_fee"},
		{"refundquery without ids", v2("refundquery", "mch_id", mch1, "paytype", "WECHAT"), "out_refund_no"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, s.URL, gw, tt.params, key1)
			expectFail(t, r, "20004")
			if !strings.Contains(r["msg"], tt.field) {
				t.Errorf("got msg %q, want it to name %s", r["msg"], tt.field)
			}
		})
	}
	if _, ok := s.Order("IV00001"); ok {
		t.Error("an invalid pre-order created an order")
	}
}

func TestNoAgentConfigured(t *testing.T) {
	t.Parallel()
	s := RunT(t, Config{Merchants: map[string]string{mch1: key1}})
	r := call(t, s.URL, "/Open/ALIPAY_PreOrder", v1("", preOrderParams(mch1, "NA00001", "")...), agentK)
	expectFail(t, r, "20012")
}

func TestQueryStringIsNotSigned(t *testing.T) {
	t.Parallel()
	s := RunT(t, fastConfig())
	// A body that verifies, plus a query string that must be ignored both
	// for the signature and for the order.
	p := v2("PreOrder_WECHAT", preOrderParams(mch1, "QS00001", "")...)
	sg, err := sign.Sign(p, key1, sign.MD5)
	if err != nil {
		t.Fatal(err)
	}
	p.Set("sign", sg)
	resp, err := http.PostForm(s.URL+"/v2/UnifiedPay/Gateway?total_fee=1&out_trade_no=QS00002", p)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	o, ok := s.Order("QS00001")
	if !ok || o.Amount != 100 {
		t.Fatalf("got order %+v (found %v), want QS00001 for 100 fen", o, ok)
	}
	// A sign only in the query string is a missing sign.
	p.Del("sign")
	resp, err = http.PostForm(s.URL+"/v2/UnifiedPay/Gateway?sign="+sg, p)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	expectFail(t, r, "20002")
}

func TestMethodNotAllowed(t *testing.T) {
	t.Parallel()
	s := RunT(t, fastConfig())
	resp, err := http.Get(s.URL + "/v2/UnifiedPay/Gateway")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET: got HTTP %d, want 405", resp.StatusCode)
	}
}

func TestDuplicateOutTradeNo(t *testing.T) {
	t.Parallel()
	s := RunT(t, fastConfig())
	mustPreOrder(t, s, "DUP000001", "")
	r := call(t, s.URL, "/v2/UnifiedPay/Gateway", v2("PreOrder_ALIPAY", preOrderParams(mch1, "DUP000001", "")...), key1)
	expectFail(t, r, "20004")
	if o, _ := s.Order("DUP000001"); o.Channel != model.PayWeChat {
		t.Errorf("the duplicate replaced the order: %+v", o)
	}
}

package model

// PreOrderRequest is the business part of a pre-order (主扫预下单): the v2
// unified PreOrder_WECHAT / PreOrder_ALIPAY / PreOrder_ECNY and the legacy
// Open/WECHAT_PreOrder and Open/ALIPAY_PreOrder. The public parameters
// (method, agent_id, pid, version, nonce_str, sign) are the client's to add.
type PreOrderRequest struct {
	// Channel selects the method or legacy endpoint; it is not sent.
	Channel PayType `schema:"-" validate:"required,oneof=WECHAT ALIPAY ECNY"`

	// MchID is the 超赢 merchant number (mch_id) the payment is for.
	MchID string `schema:"mch_id" validate:"required,max=64"`
	// SubAppID is the WeChat official-account or mini-program AppID
	// (sub_appid).
	SubAppID string `schema:"sub_appid,omitempty"`
	// IsMinipg is 1 for a WeChat mini program, 0 for an official account
	// (is_minipg).
	IsMinipg string `schema:"is_minipg,omitempty" validate:"omitempty,oneof=0 1"`
	// BuyerID is the buyer's id in the channel (buyer_id): the WeChat
	// openid under SubAppID, or the Alipay user id; required for JSPAY.
	BuyerID string `schema:"buyer_id,omitempty"`
	// BuyerLogonID is the buyer's Alipay account (buyer_logon_id); Alipay
	// JSPAY needs it or BuyerID.
	BuyerLogonID string `schema:"buyer_logon_id,omitempty"`
	// DeviceInfo is the terminal id (device_info), merchant-defined;
	// optional. Signable text (see the signable rule in Validate).
	DeviceInfo string `schema:"device_info,omitempty" validate:"omitempty,signable"`
	// Body is the goods description the buyer sees (body). Do not pad it
	// or put a literal % in it: the gateway trims and unescapes values
	// before it signs.
	Body string `schema:"body" validate:"required"`
	// Attach is the merchant's extra data (attach); order queries echo
	// it, notifications do not. Signable text.
	Attach string `schema:"attach,omitempty" validate:"omitempty,signable"`
	// OutTradeNo is a fresh merchant order number for this attempt
	// (out_trade_no): 5–32 letters and digits.
	OutTradeNo string `schema:"out_trade_no" validate:"required,out_trade_no"`
	// TotalFee is the amount to pay in fen (分) (total_fee), above 0; the
	// host's, never the browser's.
	TotalFee int64 `schema:"total_fee" validate:"gt=0"`
	// MchCreateIP is the caller's IP address (mch_create_ip); optional.
	MchCreateIP string `schema:"mch_create_ip,omitempty" validate:"omitempty,ip"`
	// TimeStart is when the order starts (time_start), yyyyMMddHHmmss in
	// GMT+8; optional.
	TimeStart string `schema:"time_start,omitempty" validate:"omitempty,cytime"`
	// TimeExpire is when the order expires unpaid (time_expire),
	// yyyyMMddHHmmss in GMT+8; optional.
	TimeExpire string `schema:"time_expire,omitempty" validate:"omitempty,cytime"`
	// NotifyURL is where the gateway posts the payment notification
	// (notify_url): reachable, and with no query string (ValidNotifyURL).
	NotifyURL string `schema:"notify_url,omitempty" validate:"omitempty,notify_url"`
	// OpShopID is the merchant's store id (op_shop_id); optional.
	// Signable text.
	OpShopID string `schema:"op_shop_id,omitempty" validate:"omitempty,signable"`
	// OpUserID is the operator (op_user_id); the gateway defaults it to
	// MchID. Signable text.
	OpUserID string `schema:"op_user_id,omitempty" validate:"omitempty,signable"`
	// LimitPay restricts payment methods (limit_pay): LimitNoCredit
	// (NO_CREDIT), the one documented value, forbids credit cards.
	LimitPay string `schema:"limit_pay,omitempty" validate:"omitempty,oneof=NO_CREDIT"`
	// TradeType is NATIVE (a QR code), JSPAY (the in-app cashier), APP or
	// APP_BANK (trade_type).
	TradeType string `schema:"trade_type" validate:"required,oneof=JSPAY NATIVE APP APP_BANK"`
	// ProductID is the merchant's product id (product_id); required for
	// NATIVE.
	ProductID string `schema:"product_id,omitempty"`
	// GoodsTag is a promotion tag (goods_tag) for coupons and discounts;
	// the gateway forbids it for ECNY. Signable text.
	GoodsTag string `schema:"goods_tag,omitempty" validate:"omitempty,signable"`
	// GoodsDetail is a JSON array of GoodsDetail items, sent verbatim
	// (EncodeGoods writes one). The gateway does not say that the items
	// must add up to TotalFee, and this package does not require it.
	GoodsDetail string `schema:"goods_detail,omitempty" validate:"omitempty,goods_detail"`
	// ProfitSharing is the profit-sharing flag (profit_sharing); the
	// documents give only the example N and no list of values, so any
	// signable text is passed on. Not on the legacy Alipay endpoint.
	ProfitSharing string `schema:"profit_sharing,omitempty" validate:"omitempty,signable"`
	// ProfitSharingReceiver is the split detail
	// (profit_sharing_receiver); the documents do not give its format, so
	// it is passed on unchanged (signable text). Not on the legacy Alipay
	// endpoint.
	ProfitSharingReceiver string `schema:"profit_sharing_receiver,omitempty" validate:"omitempty,signable"`
}

// LimitNoCredit is PreOrderRequest.LimitPay's one documented value: no
// credit cards.
const LimitNoCredit = "NO_CREDIT"

// Trade types of a pre-order request.
const (
	TradeTypeJSPay   = "JSPAY"
	TradeTypeNative  = "NATIVE"
	TradeTypeApp     = "APP"
	TradeTypeAppBank = "APP_BANK"
)

// GoodsDetail is one item of PreOrderRequest.GoodsDetail.
type GoodsDetail struct {
	// GoodsID is the merchant's item id: letters, digits, '_' or '-'.
	GoodsID string `json:"goods_id" validate:"required,goods_id"`
	// PayGoodsID is the channel's goods id (pay_goods_id); optional.
	PayGoodsID string `json:"pay_goods_id,omitempty"`
	// GoodsName is the item's name; optional.
	GoodsName string `json:"goods_name,omitempty"`
	// Quantity is how many of the item, above 0.
	Quantity int64 `json:"quantity" validate:"gt=0"`
	// Price is the unit price in fen, 0 or more.
	Price int64 `json:"price" validate:"gte=0"`
}

// PreOrderResponse is a pre-order reply. TradeState SUCCESS means the order
// was created, not that it was paid.
type PreOrderResponse struct {
	Envelope
	// MchID is the 超赢 merchant number (mch_id), an opaque string.
	MchID string `schema:"mch_id,omitempty" json:"mch_id,omitempty"`
	// AppID is the WeChat AppID of the payment (appid); the documents
	// mark it required, their examples omit it.
	AppID string `schema:"appid,omitempty" json:"appid,omitempty"`
	// SubOpenID is the buyer's WeChat openid under SubAppID (sub_openid).
	SubOpenID string `schema:"sub_openid,omitempty" json:"sub_openid,omitempty"`
	// OutTradeNo is the merchant's order number (out_trade_no) of the
	// payment attempt.
	OutTradeNo string `schema:"out_trade_no,omitempty" json:"out_trade_no,omitempty"`
	// TokenID is WeChat's prepay id (token_id).
	TokenID string `schema:"token_id,omitempty" json:"token_id,omitempty"`
	// PayInfo (JSPAY) is JSON text for the WeChat / Alipay JS cashier.
	PayInfo string `schema:"pay_info,omitempty" json:"pay_info,omitempty"`
	// PayURL (legacy Alipay JSPAY) is for reference only.
	PayURL string `schema:"pay_url,omitempty" json:"pay_url,omitempty"`
	// CodeURL (NATIVE) is the text to render as a QR code.
	CodeURL string `schema:"code_url,omitempty" json:"code_url,omitempty"`
	// CodeImgURL is deprecated by the gateway; render CodeURL instead.
	CodeImgURL string `schema:"code_img_url,omitempty" json:"code_img_url,omitempty"`
	// Services (legacy WeChat) lists supported trade types, '|'-separated.
	Services string `schema:"services,omitempty" json:"services,omitempty"`
	// NonceStr is the gateway's random string (nonce_str); it only varies
	// the sign.
	NonceStr string `schema:"nonce_str,omitempty" json:"nonce_str,omitempty"`
	// WxMchID is WeChat's service-provider merchant number (wx_mch_id),
	// when the channel is WeChat.
	WxMchID string `schema:"wx_mch_id,omitempty" json:"wx_mch_id,omitempty"`
	// WxSubMchID is WeChat's sub-merchant number (wx_sub_mch_id), when
	// the channel is WeChat.
	WxSubMchID string `schema:"wx_sub_mch_id,omitempty" json:"wx_sub_mch_id,omitempty"`
}

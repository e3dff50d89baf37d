package model

// PreOrderRequest is the business part of a pre-order (主扫预下单): the v2
// unified PreOrder_WECHAT / PreOrder_ALIPAY / PreOrder_ECNY and the legacy
// Open/WECHAT_PreOrder and Open/ALIPAY_PreOrder. The public parameters
// (method, agent_id, pid, version, nonce_str, sign) are the client's to add.
type PreOrderRequest struct {
	// Channel selects the method or legacy endpoint; it is not sent.
	Channel PayType `schema:"-" validate:"required,oneof=WECHAT ALIPAY ECNY"`

	MchID        string `schema:"mch_id" validate:"required,max=64"`
	SubAppID     string `schema:"sub_appid,omitempty"`
	IsMinipg     string `schema:"is_minipg,omitempty" validate:"omitempty,oneof=0 1"`
	BuyerID      string `schema:"buyer_id,omitempty"`
	BuyerLogonID string `schema:"buyer_logon_id,omitempty"`
	DeviceInfo   string `schema:"device_info,omitempty"`
	Body         string `schema:"body" validate:"required"`
	Attach       string `schema:"attach,omitempty"`
	OutTradeNo   string `schema:"out_trade_no" validate:"required,out_trade_no"`
	TotalFee     int64  `schema:"total_fee" validate:"gt=0"`
	MchCreateIP  string `schema:"mch_create_ip,omitempty" validate:"omitempty,ip"`
	TimeStart    string `schema:"time_start,omitempty" validate:"omitempty,cytime"`
	TimeExpire   string `schema:"time_expire,omitempty" validate:"omitempty,cytime"`
	NotifyURL    string `schema:"notify_url,omitempty" validate:"omitempty,notify_url"`
	OpShopID     string `schema:"op_shop_id,omitempty"`
	OpUserID     string `schema:"op_user_id,omitempty"`
	LimitPay     string `schema:"limit_pay,omitempty"`
	TradeType    string `schema:"trade_type" validate:"required,oneof=JSPAY NATIVE APP APP_BANK"`
	ProductID    string `schema:"product_id,omitempty"`
	GoodsTag     string `schema:"goods_tag,omitempty"`
	// GoodsDetail is a JSON array of GoodsDetail items, sent verbatim.
	GoodsDetail           string `schema:"goods_detail,omitempty" validate:"omitempty,goods_detail"`
	ProfitSharing         string `schema:"profit_sharing,omitempty"`
	ProfitSharingReceiver string `schema:"profit_sharing_receiver,omitempty"`
}

// Trade types of a pre-order request.
const (
	TradeTypeJSPay   = "JSPAY"
	TradeTypeNative  = "NATIVE"
	TradeTypeApp     = "APP"
	TradeTypeAppBank = "APP_BANK"
)

// GoodsDetail is one item of PreOrderRequest.GoodsDetail.
type GoodsDetail struct {
	GoodsID    string `json:"goods_id" validate:"required,goods_id"`
	PayGoodsID string `json:"pay_goods_id,omitempty"`
	GoodsName  string `json:"goods_name,omitempty"`
	Quantity   int64  `json:"quantity" validate:"gt=0"`
	Price      int64  `json:"price" validate:"gte=0"`
}

// PreOrderResponse is a pre-order reply. TradeState SUCCESS means the order
// was created, not that it was paid.
type PreOrderResponse struct {
	Envelope
	MchID      string `schema:"mch_id,omitempty" json:"mch_id,omitempty"`
	AppID      string `schema:"appid,omitempty" json:"appid,omitempty"`
	SubOpenID  string `schema:"sub_openid,omitempty" json:"sub_openid,omitempty"`
	OutTradeNo string `schema:"out_trade_no,omitempty" json:"out_trade_no,omitempty"`
	TokenID    string `schema:"token_id,omitempty" json:"token_id,omitempty"`
	// PayInfo (JSPAY) is JSON text for the WeChat / Alipay JS cashier.
	PayInfo string `schema:"pay_info,omitempty" json:"pay_info,omitempty"`
	// PayURL (legacy Alipay JSPAY) is for reference only.
	PayURL string `schema:"pay_url,omitempty" json:"pay_url,omitempty"`
	// CodeURL (NATIVE) is the text to render as a QR code.
	CodeURL string `schema:"code_url,omitempty" json:"code_url,omitempty"`
	// CodeImgURL is deprecated by the gateway; render CodeURL instead.
	CodeImgURL string `schema:"code_img_url,omitempty" json:"code_img_url,omitempty"`
	// Services (legacy WeChat) lists supported trade types, '|'-separated.
	Services   string `schema:"services,omitempty" json:"services,omitempty"`
	NonceStr   string `schema:"nonce_str,omitempty" json:"nonce_str,omitempty"`
	WxMchID    string `schema:"wx_mch_id,omitempty" json:"wx_mch_id,omitempty"`
	WxSubMchID string `schema:"wx_sub_mch_id,omitempty" json:"wx_sub_mch_id,omitempty"`
}

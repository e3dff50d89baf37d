package model

// Version is the gateway protocol version an order was created under. It
// decides which key signs the order's requests, responses and notifications.
type Version string

const (
	// V1 is the legacy gateway (/UnifiedPay/Gateway and /Open/*_PreOrder):
	// requests carry agent_id and everything is signed with the agent key
	// (代理商密钥).
	V1 Version = "v1"
	// V2 is the unified gateway (/v2/UnifiedPay/Gateway): no agent_id, and
	// everything is signed with the merchant key (商户密钥).
	V2 Version = "v2"
)

// Valid reports whether v is V1 or V2.
func (v Version) Valid() bool { return v == V1 || v == V2 }

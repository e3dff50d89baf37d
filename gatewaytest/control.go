package gatewaytest

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"
)

// controlRoutes adds the Config.ControlEndpoints routes. They are not part
// of the gateway, carry no signature, and answer errors as plain text.
func (s *Server) controlRoutes(mux *http.ServeMux) {
	act := func(f func(string) error) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			err := f(r.PathValue("out_trade_no"))
			switch {
			case errors.Is(err, ErrUnknownOrder), errors.Is(err, ErrNoNotification):
				http.Error(w, err.Error(), http.StatusNotFound)
			case err != nil:
				http.Error(w, err.Error(), http.StatusConflict)
			default:
				s.writeOrder(w, r.PathValue("out_trade_no"))
			}
		}
	}
	mux.HandleFunc("POST /sim/pay/{out_trade_no}", func(w http.ResponseWriter, r *http.Request) {
		otn := r.PathValue("out_trade_no")
		switch mode := r.URL.Query().Get("notify"); mode {
		case "":
		case "lost", "late":
			s.mu.Lock()
			f := s.faultsForLocked(otn)
			if mode == "lost" {
				f.DropNotify = true
			} else {
				f.DropFirst = LateAttempts
			}
			s.faults[otn] = f
			s.mu.Unlock()
		default:
			http.Error(w, "notify: want lost or late", http.StatusBadRequest)
			return
		}
		act(s.Pay)(w, r)
	})
	mux.HandleFunc("POST /sim/fail/{out_trade_no}", act(s.FailPayment))
	mux.HandleFunc("POST /sim/redeliver/{out_trade_no}", act(s.Redeliver))
	mux.HandleFunc("GET /sim/clock", s.writeClock)
	mux.HandleFunc("POST /sim/clock", func(w http.ResponseWriter, r *http.Request) {
		d, err := time.ParseDuration(r.URL.Query().Get("advance"))
		if err == nil {
			err = s.Advance(d)
		}
		if err != nil {
			http.Error(w, "advance: want a positive duration such as 5m or 1h30m", http.StatusBadRequest)
			return
		}
		s.writeClock(w, r)
	})
	mux.HandleFunc("GET /sim/orders/{out_trade_no}", func(w http.ResponseWriter, r *http.Request) {
		s.writeOrder(w, r.PathValue("out_trade_no"))
	})
}

// LateAttempts is how many delivery attempts POST /sim/pay/{out_trade_no}?notify=late
// drops: the first notification to arrive is the 7th, 7m15s after payment —
// after the 5-minute cancel window and the reconciler's fast window.
const LateAttempts = 6

// Clock is the simulator's clock as GET /sim/clock reports it.
type Clock struct {
	// Now is the simulator's time.
	Now time.Time `json:"now"`
	// Advanced is how far Advance has moved it, e.g. "5m0s".
	Advanced string `json:"advanced"`
}

func (s *Server) writeClock(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(Clock{Now: s.Now(), Advanced: s.Offset().String()})
}

func (s *Server) writeOrder(w http.ResponseWriter, outTradeNo string) {
	o, ok := s.Order(outTradeNo)
	if !ok {
		http.Error(w, ErrUnknownOrder.Error(), http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(o)
}

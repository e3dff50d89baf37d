package gatewaytest

import (
	"encoding/json"
	"errors"
	"net/http"
)

// controlRoutes adds the Config.ControlEndpoints routes. They are not part
// of the gateway, carry no signature, and answer errors as plain text.
func (s *Server) controlRoutes(mux *http.ServeMux) {
	act := func(f func(string) error) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			err := f(r.PathValue("out_trade_no"))
			switch {
			case errors.Is(err, ErrUnknownOrder):
				http.Error(w, err.Error(), http.StatusNotFound)
			case err != nil:
				http.Error(w, err.Error(), http.StatusConflict)
			default:
				s.writeOrder(w, r.PathValue("out_trade_no"))
			}
		}
	}
	mux.HandleFunc("POST /sim/pay/{out_trade_no}", act(s.Pay))
	mux.HandleFunc("POST /sim/fail/{out_trade_no}", act(s.FailPayment))
	mux.HandleFunc("GET /sim/orders/{out_trade_no}", func(w http.ResponseWriter, r *http.Request) {
		s.writeOrder(w, r.PathValue("out_trade_no"))
	})
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

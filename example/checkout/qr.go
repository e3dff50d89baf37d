package main

import (
	"net/http"
	"strconv"

	qr "github.com/piglig/go-qr"
)

// maxQRText bounds the work one request can ask for; a code_url is far
// shorter.
const maxQRText = 1024

// serveQR renders ?text= as a PNG QR code on the server, so the page
// needs no JavaScript library and code_url never leaves for a third-party
// QR service.
func serveQR(w http.ResponseWriter, r *http.Request) {
	text := r.URL.Query().Get("text")
	if text == "" || len(text) > maxQRText {
		writeError(w, http.StatusBadRequest, "text must be 1.."+strconv.Itoa(maxQRText)+" bytes")
		return
	}
	png, err := qrPNG(text)
	if err != nil {
		writeError(w, http.StatusBadRequest, "cannot encode text as a QR code")
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "private, max-age=300")
	w.Write(png)
}

// qrPNG encodes text with medium error correction, 8 pixels a module and
// the standard 4-module quiet zone.
func qrPNG(text string) ([]byte, error) {
	code, err := qr.EncodeText(text, qr.Medium)
	if err != nil {
		return nil, err
	}
	return code.ToPNGBytes(qr.NewQrCodeImgConfig(8, 4))
}

package model

import (
	"fmt"
	"time"
)

// TimeLayout is the gateway's yyyyMMddHHmmss.
const TimeLayout = "20060102150405"

// refundTimeLayout is the dashed form the refund query example shows.
const refundTimeLayout = "2006-01-02 15:04:05"

// Beijing is GMT+8 as a fixed zone, so that parsing and formatting never
// depend on the host's time-zone database (minimal containers lack it).
var Beijing = time.FixedZone("CST", 8*60*60)

// ParseTime reads a gateway time in GMT+8: yyyyMMddHHmmss, or the dashed
// "yyyy-MM-dd HH:mm:ss" that refund queries show.
func ParseTime(s string) (time.Time, error) {
	layout := TimeLayout
	if len(s) == len(refundTimeLayout) {
		layout = refundTimeLayout
	}
	t, err := time.ParseInLocation(layout, s, Beijing)
	if err != nil {
		return time.Time{}, fmt.Errorf("model: time %q is not yyyyMMddHHmmss", s)
	}
	return t, nil
}

// FormatTime writes t as yyyyMMddHHmmss in GMT+8, whatever t's zone.
func FormatTime(t time.Time) string { return t.In(Beijing).Format(TimeLayout) }

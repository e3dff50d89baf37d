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
	if t, ok := parseCompact(s); ok {
		return t, nil
	}
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

// parseCompact reads yyyyMMddHHmmss without the layout machinery of
// time.Parse, which costs more than the rest of a duplicate notification's
// checks together. It accepts exactly what time.ParseInLocation with
// TimeLayout accepts for 14 ASCII digits: a real calendar date and a time
// of day.
func parseCompact(s string) (time.Time, bool) {
	if len(s) != len(TimeLayout) {
		return time.Time{}, false
	}
	var d [14]int
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return time.Time{}, false
		}
		d[i] = int(c - '0')
	}
	year := d[0]*1000 + d[1]*100 + d[2]*10 + d[3]
	month := d[4]*10 + d[5]
	day := d[6]*10 + d[7]
	hour, minute, sec := d[8]*10+d[9], d[10]*10+d[11], d[12]*10+d[13]
	if month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	// Day 0 of the next month is the last day of this one.
	if day > time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day() {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, 0, Beijing), true
}

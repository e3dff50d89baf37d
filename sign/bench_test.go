package sign_test

import (
	"crypto/md5"
	"slices"
	"testing"
	"time"

	"github.com/cypaykit/kit/sign"
)

// benchNotify returns the 12-field WeChat notification (with its MD5 sign)
// and the canonical string its sign is the MD5 of.
func benchNotify(b *testing.B) (params map[string][]string, key string, canonical []byte) {
	b.Helper()
	vec := vectorNamed(b, "notify-wechat")
	if n := len(vec.Params); n != 12 {
		b.Fatalf("notify-wechat has %d fields, want 12", n)
	}
	v := toValues(withSign(vec.Params, vec.Sign["MD5"]))
	if err := sign.Verify(v, sign.MD5, vec.Key); err != nil {
		b.Fatalf("Verify: %v", err)
	}
	return v, vec.Key, []byte(vec.StringToSign)
}

// BenchmarkVerify12 is the cost of verifying one notification.
func BenchmarkVerify12(b *testing.B) {
	params, key, _ := benchNotify(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := sign.Verify(params, sign.MD5, key); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawMD5 is the floor: MD5 over the already-built canonical
// string, which Verify cannot avoid.
func BenchmarkRawMD5(b *testing.B) {
	_, _, canonical := benchNotify(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sink = md5.Sum(canonical)
	}
}

// BenchmarkVerifyRatio reports Verify12's time as a multiple of RawMD5's
// ("x-md5"). It alternates short batches of each and takes the median of
// the per-batch ratios, so that a batch that lost the CPU on a busy machine
// does not skew the figure. Its ns/op covers one Verify and one MD5.
func BenchmarkVerifyRatio(b *testing.B) {
	params, key, canonical := benchNotify(b)
	const batch = 64
	ratios := make([]float64, 0, b.N/batch+1)
	b.ResetTimer()
	for done := 0; done < b.N; done += batch {
		n := min(batch, b.N-done)
		start := time.Now()
		for i := 0; i < n; i++ {
			if err := sign.Verify(params, sign.MD5, key); err != nil {
				b.Fatal(err)
			}
		}
		mid := time.Now()
		for i := 0; i < n; i++ {
			sink = md5.Sum(canonical)
		}
		if raw := time.Since(mid); raw > 0 {
			ratios = append(ratios, float64(mid.Sub(start))/float64(raw))
		}
	}
	b.StopTimer()
	if len(ratios) > 0 {
		slices.Sort(ratios)
		b.ReportMetric(ratios[len(ratios)/2], "x-md5")
	}
}

var sink [md5.Size]byte

package redisstore_test

import (
	"context"
	"testing"
	"time"
)

// BenchmarkLease compares a full lease (Acquire's SET NX PX with a fresh
// token, then Release's compare-and-delete script) with the bare SET NX PX
// and DEL pair that it costs at least, on the same Redis in the same run.
func BenchmarkLease(b *testing.B) {
	rdb := newClient(b)
	prefix := newPrefix(b, rdb)
	ctx := context.Background()

	b.Run("acquireRelease", func(b *testing.B) {
		l := newLocker(b, rdb, prefix)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			token, err := l.Acquire(ctx, "bench", time.Minute)
			if err != nil {
				b.Fatal(err)
			}
			if err := l.Release(ctx, "bench", token); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("rawSetNXDel", func(b *testing.B) {
		key := prefix + "raw"
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			ok, err := rdb.SetNX(ctx, key, "token", time.Minute).Result()
			if err != nil || !ok {
				b.Fatalf("SET NX: %v, %v", ok, err)
			}
			if err := rdb.Del(ctx, key).Err(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkLeaseRatio interleaves the two forms iteration by iteration, so
// that load from other processes on the machine weighs on both alike, and
// reports lease/raw.
//
//	go test -run '^$' -bench BenchmarkLeaseRatio -benchtime 5000x -count 3
func BenchmarkLeaseRatio(b *testing.B) {
	rdb := newClient(b)
	prefix := newPrefix(b, rdb)
	l := newLocker(b, rdb, prefix)
	ctx := context.Background()
	var lease, raw time.Duration
	for i := 0; i < b.N; i++ {
		for k := 0; k < 2; k++ {
			start := time.Now()
			if (i+k)%2 == 0 {
				token, err := l.Acquire(ctx, "bench", time.Minute)
				if err != nil {
					b.Fatal(err)
				}
				if err := l.Release(ctx, "bench", token); err != nil {
					b.Fatal(err)
				}
				lease += time.Since(start)
			} else {
				ok, err := rdb.SetNX(ctx, prefix+"raw", "token", time.Minute).Result()
				if err != nil || !ok {
					b.Fatalf("SET NX: %v, %v", ok, err)
				}
				if err := rdb.Del(ctx, prefix+"raw").Err(); err != nil {
					b.Fatal(err)
				}
				raw += time.Since(start)
			}
		}
	}
	b.ReportMetric(float64(lease.Nanoseconds())/float64(b.N), "lease-ns/op")
	b.ReportMetric(float64(raw.Nanoseconds())/float64(b.N), "raw-ns/op")
	b.ReportMetric(float64(lease)/float64(raw), "lease/raw")
}

package redisstore_test

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cypaykit/kit/store/redisstore"
)

func ExampleNew() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	locker, err := redisstore.New(rdb, redisstore.Config{KeyPrefix: "example:lock:"})
	if err != nil {
		panic(err)
	}
	fmt.Println(locker.Key("fulfil:ORDER42A001"))

	// Serialise one order's fulfilment hook across instances.
	ctx := context.Background()
	token, err := locker.Acquire(ctx, "fulfil:ORDER42A001", 30*time.Second)
	if err != nil {
		return // Redis is down: the caller answers "fail" and is retried
	}
	defer locker.Release(ctx, "fulfil:ORDER42A001", token)
	// Output: example:lock:fulfil:ORDER42A001
}

module github.com/cypaykit/kit/store/redisstore

go 1.22

require (
	github.com/cypaykit/kit v0.0.0
	github.com/redis/go-redis/v9 v9.11.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/dgryski/go-rendezvous v0.0.0-20200823014737-9f7001d12a5f // indirect
	github.com/gorilla/schema v1.4.1 // indirect
)

replace github.com/cypaykit/kit => ../..

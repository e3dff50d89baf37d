module github.com/cypaykit/kit

go 1.22

require (
	github.com/google/go-cmp v0.7.0
	github.com/gorilla/schema v1.4.1
)

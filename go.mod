module github.com/cypaykit/kit

go 1.22

require github.com/gorilla/schema v1.4.1

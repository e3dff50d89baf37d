module github.com/cypaykit/kit/example

go 1.22

require github.com/cypaykit/kit v0.0.0

replace github.com/cypaykit/kit => ..

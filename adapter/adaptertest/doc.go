// Package adaptertest is the conformance suite of the framework adapters
// (adapter/kitgin, kitecho, …): RunAdapterTests mounts the kit's handlers
// and middleware on a framework's own router and server and checks that
// every request and reply crosses the adapter byte for byte. It also
// holds the fixtures a host's own routing test needs (Kit, Capture,
// CheckBodies), as gocloud's drivertest does for drivers; the checks
// every store pair must pass stay in handler/handlertest.
package adaptertest

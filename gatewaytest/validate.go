package gatewaytest

// validate checks a decoded request. It stays a no-op until model.Validate
// lands, so that the simulator never carries its own copy of the rules.
var validate = func(any) error { return nil }

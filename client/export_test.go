package client

import "time"

// HTTPTimeout is the timeout of the http.Client c sends with, for the
// tests of the default one.
func HTTPTimeout(c *Client) time.Duration { return c.http.Timeout }

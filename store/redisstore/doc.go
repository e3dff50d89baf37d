// Package redisstore is a store.Locker on Redis, for hosts that run the
// kit on several instances: a lease is a key set with SET NX PX and given
// up or extended only by the holder of its random token, checked in Lua.
package redisstore

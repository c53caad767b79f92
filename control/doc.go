// Package control is PILB's control plane: the registry of every backend,
// whichever source it came from (-backends, -demo, DNS discovery, the admin
// API), the admin API over HTTP that backends register themselves through,
// and the Registrar that a backend runs to do so.
//
// # Registry
//
// The Registry owns the backends and publishes them to the event loops as
// an immutable pool.Table (every pool, its balancer, the routes) through
// pool.Routes: a loop reads the table with one atomic load per request and
// never takes a lock. Every change (a registration, an expiry, a DNS
// answer that changed) builds a new table under the registry's mutex, off
// the loops, reusing the pools that did not change so their balancers keep
// their place.
//
// A backend that leaves, whatever the reason (DELETE, a ttl that passed
// without a refresh, a move to another address, an address gone from DNS),
// drains: it is marked draining first, so no loop picks it for a new
// request, then left out of the next table. Requests in flight on it
// finish; the loops close its idle pooled connections at their next tick.
// The registry lists it as draining until it has no request in flight and
// no connection left, then forgets it.
//
// # Admin API
//
// Handler serves the registry as JSON on its own net/http listener, never
// on the event loops: GET, POST and DELETE on /backends, GET on /pools.
// Errors are {"error": "..."} with 400, 401, 404, 405, 409 or 413; bodies
// are capped at maxBody; a malformed or hostile request changes nothing.
// With a token every request needs "Authorization: Bearer <token>",
// compared in constant time; without one, Listen refuses any address but
// loopback.
package control

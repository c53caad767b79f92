// Package discovery finds backends in DNS: each target, a name and a port
// (A and AAAA records) or an SRV name (a name starting with '_', whose
// records carry the ports and weights), is resolved every interval and its
// whole answer handed to the control plane's registry, where every address
// is a backend of the target's pool and an address that disappeared
// drains. This is how an Auto Scaling group behind a Route 53 or AWS Cloud
// Map name, a Consul service or several proxies sharing one name reach
// PILB without a restart; hostnames given to -backends are resolved the
// same way, at start and at every interval, never per connection.
//
// A failed lookup (timeout, SERVFAIL, no server) keeps the last answer:
// an outage of DNS does not empty the pools, and health checks still
// catch dead backends. A name that stops existing (NXDOMAIN, or no record
// left) is held for HoldEmpty before its backends drain, as HAProxy's
// "hold nx", so a brief glitch of the zone does not either.
package discovery

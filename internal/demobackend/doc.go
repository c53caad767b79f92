// Package demobackend is a small, fast HTTP/1.1 origin server on gnet/v2
// event loops. PILB uses it as the backend of `pilb -demo N`, of its
// end-to-end tests and of the load benchmarks in bench/.
//
// It parses requests with PILB's own httpparse package and answers a few
// fixed routes (see Config and the route table in routes.go). Every response
// carries "Server: <ID>", so a client can tell which backend answered, and
// Requests counts the answers, so a test can check the balancer's rotation.
//
// The server speaks correct HTTP/1.1 to well-behaved and hostile clients
// alike: keep-alive, pipelining (answers in request order), request bodies
// framed by Content-Length or chunked, HEAD, HTTP/1.0 close semantics, and a
// status from httpparse.Status followed by a close for a malformed request.
// Memory per connection is bounded: see maxOutbound, maxStalledInbound and
// MaxBody.
package demobackend

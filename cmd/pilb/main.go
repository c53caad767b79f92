// Command pilb is the PILB reverse proxy and load balancer.
package main

func main() {}

package engine

import (
	"io"
	"net"
	"testing"
)

// The accept benchmarks: one connection per request, answered by PILB
// itself (the monitor URI, so that no backend's cost blurs the figure),
// read to its close. BenchmarkAcceptGnet is gnet's own accept (a
// SO_REUSEPORT listener per loop); BenchmarkAcceptListener is PILB's
// accept loop handing connections to the loops (listener.go). The
// difference per op is what owning the accept costs; cpu-ns/op is the
// whole process's CPU (the client's connect and read included).

const acceptRequest = "GET /-/health HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"

func benchAccept(b *testing.B, s *Server) {
	buf := make([]byte, 512)
	do := func() {
		c, err := net.Dial("tcp", s.Addr())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.WriteString(c, acceptRequest); err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			k, err := c.Read(buf[n:])
			n += k
			if err != nil {
				break
			}
		}
		c.Close()
		if n < 12 || string(buf[9:12]) != "200" {
			b.Fatalf("answer %q", buf[:n])
		}
	}
	for range 200 {
		do()
	}
	b.ReportAllocs()
	cpu0 := processCPU()
	b.ResetTimer()
	for b.Loop() {
		do()
	}
	b.StopTimer()
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
}

func acceptConfig(b *testing.B) Config {
	demos := startDemo(b, 1)
	return Config{Loops: 1, Backends: setOf(b, demos[0].Addr()), LingerTimeout: 100e6,
		Operations: Operations{MonitorURI: "/-/health"}}
}

// BenchmarkAcceptGnet is the baseline: gnet accepts.
func BenchmarkAcceptGnet(b *testing.B) {
	benchAccept(b, startProxy(b, acceptConfig(b)))
}

// BenchmarkAcceptListener: PILB accepts and enrolls.
func BenchmarkAcceptListener(b *testing.B) {
	benchAccept(b, startOnListener(b, acceptConfig(b), listenTCP(b)))
}

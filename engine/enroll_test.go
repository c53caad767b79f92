package engine

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// fakeLoop is a gnet.EventLoop for tests that put events between a task's
// queueing and its run: Execute hands tasks to the test, which runs them as
// the loop would, one at a time. Its Enroll does what gnet 2.9.7 does when
// epoll_ctl refuses a descriptor: it closes the connection and reports it
// registered, without an OnOpen.
type fakeLoop struct{ tasks chan gnet.Runnable }

func newFakeLoop() *fakeLoop { return &fakeLoop{tasks: make(chan gnet.Runnable, 16)} }

// registered is the gnet.Conn such an enrolment reports.
type registered struct{ gnet.Conn }

func (o *fakeLoop) Register(context.Context, net.Addr) (<-chan gnet.RegisteredResult, error) {
	return nil, errors.ErrUnsupported
}

func (o *fakeLoop) Enroll(_ context.Context, nc net.Conn) (<-chan gnet.RegisteredResult, error) {
	_ = nc.Close()
	ch := make(chan gnet.RegisteredResult, 1)
	ch <- gnet.RegisteredResult{Conn: registered{}}
	close(ch)
	return ch, nil
}

func (o *fakeLoop) Execute(_ context.Context, r gnet.Runnable) error {
	o.tasks <- r
	return nil
}

func (o *fakeLoop) Schedule(context.Context, gnet.Runnable, time.Duration) error {
	return errors.ErrUnsupported
}

func (o *fakeLoop) Close(gnet.Conn) error { return nil }

// TestEnrolledWithoutOpen: a connect whose enrolment reports success but
// never opens must fail like any connect (its dial slot given back, the
// connection forgotten), not wait for an OnOpen that never comes.
func TestEnrolledWithoutOpen(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	cfg := e2eConfig()
	cfg.Backends = setOf(t, ln.Addr().String())
	cfg.Logger = testLogger()
	cfg.Addr = "127.0.0.1:0"
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	el := newFakeLoop()
	l := newLoop(s, el)
	b := cfg.Backends.Snapshot()[0]

	be := l.dial(b)
	if be.sock.st != sockDialing || l.dials != 1 {
		t.Fatalf("after dial: socket %v, %d dials", be.sock.st, l.dials)
	}
	task := recvWithin(t, el.tasks, 10*time.Second)
	if err := task.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if be.sock.st != sockClosed || l.dials != 0 || l.dialing[b] != 0 {
		t.Errorf("a connect registered without an OnOpen: socket %v, %d dials, %d dialing to the backend; want closed, 0, 0",
			be.sock.st, l.dials, l.dialing[b])
	}
	for _, c := range l.backends {
		if c == be {
			t.Error("the connection is still among the loop's backends")
		}
	}
}

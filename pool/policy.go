package pool

import "fmt"

// Policies are the balancing algorithms by name, as -balance takes them.
const (
	PolicyRoundRobin = "roundrobin"
	PolicyWeighted   = "weighted"
	PolicyLeastConn  = "leastconn"
	PolicyP2C        = "p2c"
)

// Policies lists the policy names, the default first.
var Policies = []string{PolicyRoundRobin, PolicyWeighted, PolicyLeastConn, PolicyP2C}

// NewBalancer returns a new balancer of the named policy for backends (only
// Weighted prepares anything for the list; the others work on any). It
// returns ErrUnknownPolicy for a name not in Policies.
func NewBalancer(policy string, backends []*Backend) (Balancer, error) {
	switch policy {
	case PolicyRoundRobin:
		return new(RoundRobin), nil
	case PolicyWeighted:
		return NewWeighted(backends), nil
	case PolicyLeastConn:
		return new(LeastConn), nil
	case PolicyP2C:
		return P2C{}, nil
	}
	return nil, fmt.Errorf("%w: %q (want one of %v)", ErrUnknownPolicy, policy, Policies)
}

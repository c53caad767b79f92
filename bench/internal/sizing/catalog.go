package sizing

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// instancesJSON is the instance catalogue; update it in place (each
// figure names its source and date).
//
//go:embed instances.json
var instancesJSON []byte

// Catalog is an instance data file: the embedded instances.json or an
// operator's own (size -catalog FILE).
type Catalog struct {
	Region        string  `json:"region"`
	Currency      string  `json:"currency"`
	HoursPerMonth float64 `json:"hours_per_month"`
	Note          string  `json:"note"`
	// Sources names where figures come from; instances refer to them by
	// key.
	Sources map[string]Source `json:"sources"`
	// Front is the load balancer in front of a fleet; its price is not
	// in the instances' cost (the same for every fleet).
	Front     Front      `json:"front"`
	Instances []Instance `json:"instances"`
	// Path is where the catalogue was read from ("embedded" for the
	// built-in one).
	Path string `json:"-"`
}

// Source is where a figure was taken from, and when.
type Source struct {
	What string `json:"what"`
	URL  string `json:"url"`
	AsOf string `json:"as_of"`
}

// Front is the load balancer in front of several proxy instances.
type Front struct {
	Name       string  `json:"name"`
	USDPerHour float64 `json:"usd_per_hour"`
	AsOf       string  `json:"as_of"`
	Source     string  `json:"source"`
}

// Instance is one instance type's published figures.
type Instance struct {
	Type string `json:"type"`
	// Arch is the Go architecture, amd64 or arm64 ("x86_64" is read as
	// amd64).
	Arch string `json:"arch"`
	// CPU names the processor ("AWS Graviton4"): instances with the same
	// CPU and threads per core share a measured capacity.
	CPU string `json:"cpu"`
	// ThreadsPerCore is 2 where each vCPU is a hyper-thread, 1 where it
	// is a whole core.
	ThreadsPerCore int     `json:"threads_per_core"`
	VCPUs          int     `json:"vcpus"`
	BaselineGbps   float64 `json:"baseline_gbps"`
	USDPerHour     float64 `json:"usd_per_hour"`
	PriceAsOf      string  `json:"price_as_of"`
	PriceSource    string  `json:"price_source"`
	NetworkSource  string  `json:"network_source"`
	CPUSource      string  `json:"cpu_source,omitempty"`
	// PPSLimit is the packets per second (in plus out) the instance's
	// network allows; 0 when unknown (AWS does not publish it).
	PPSLimit float64 `json:"pps_limit,omitempty"`
	// ConntrackLimit is the tracked connections the instance allows; 0
	// when unknown (AWS does not publish it).
	ConntrackLimit float64 `json:"conntrack_limit,omitempty"`
}

// Family is the part of the type before the dot: "c7g" of "c7g.xlarge".
func Family(instanceType string) string {
	f, _, _ := strings.Cut(instanceType, ".")
	return f
}

// Embedded returns the catalogue compiled into the binary.
func Embedded() (Catalog, error) {
	c, err := parseCatalog(instancesJSON)
	c.Path = "embedded bench/internal/sizing/instances.json"
	return c, err
}

// LoadCatalog reads a catalogue file of the same format.
func LoadCatalog(path string) (Catalog, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Catalog{}, err
	}
	c, err := parseCatalog(b)
	c.Path = path
	return c, err
}

func parseCatalog(b []byte) (Catalog, error) {
	var c Catalog
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("%w: %v", ErrBadCatalog, err)
	}
	if c.HoursPerMonth == 0 {
		c.HoursPerMonth = 730
	}
	if len(c.Instances) == 0 {
		return c, fmt.Errorf("%w: no instances", ErrBadCatalog)
	}
	seen := map[string]bool{}
	for i := range c.Instances {
		in := &c.Instances[i]
		if in.Arch == "x86_64" {
			in.Arch = "amd64"
		}
		if in.ThreadsPerCore == 0 {
			in.ThreadsPerCore = 1
		}
		switch {
		case in.Type == "" || seen[in.Type]:
			return c, fmt.Errorf("%w: instance %d: missing or repeated type %q", ErrBadCatalog, i, in.Type)
		case in.Arch != "amd64" && in.Arch != "arm64":
			return c, fmt.Errorf("%w: %s: arch %q, want amd64 or arm64", ErrBadCatalog, in.Type, in.Arch)
		case in.VCPUs < 1 || in.BaselineGbps <= 0 || in.USDPerHour <= 0 || in.CPU == "":
			return c, fmt.Errorf("%w: %s: vcpus, baseline_gbps, usd_per_hour and cpu must be given", ErrBadCatalog, in.Type)
		case in.PriceAsOf == "" || !c.hasSource(in.PriceSource) || !c.hasSource(in.NetworkSource):
			return c, fmt.Errorf("%w: %s: every price needs price_as_of, and price_source and network_source naming an entry of sources",
				ErrBadCatalog, in.Type)
		}
		seen[in.Type] = true
	}
	return c, nil
}

func (c Catalog) hasSource(key string) bool {
	_, ok := c.Sources[key]
	return ok
}

// byFamily returns an instance of the family, for its CPU.
func (c Catalog) byFamily(family string) (Instance, bool) {
	for _, in := range c.Instances {
		if Family(in.Type) == family {
			return in, true
		}
	}
	return Instance{}, false
}

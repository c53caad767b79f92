// Command pilb-bench measures pilb against nginx and HAProxy and sizes
// instances from the measurements. See bench/README.md.
//
//	go run ./bench/cmd/pilb-bench local   [flags]  # pilb on this host
//	go run ./bench/cmd/pilb-bench compare [flags]  # pilb, nginx, haproxy
//	go run ./bench/cmd/pilb-bench hostile [flags]  # issue 7's hostile-load targets, pilb beside nginx and haproxy
//	go run ./bench/cmd/pilb-bench remote  [flags]  # proxy and load on separate hosts
//	go run ./bench/cmd/pilb-bench agent   [flags]  # CPU/memory sampler on the proxy host
//	go run ./bench/cmd/pilb-bench size    [flags]  # instance recommendation
//	go run ./bench/cmd/pilb-bench report  [flags]  # re-render report.md from results.json
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

const usage = `usage: pilb-bench <subcommand> [flags]   (pilb-bench <subcommand> -h for its flags)

  local    start backends and pilb on this host and run the ladder
  compare  the same ladder against pilb, nginx and HAProxy, with ratio tables
  hostile  hostile load against pilb, nginx and HAProxy: 8,000 clients,
           slowloris, idle connections, slow transfers, 1 MiB downloads
  remote   proxy and load generator on separate hosts: print the per-host
           commands (-print) or drive the ladder from this host
  agent    serve the CPU time and memory of a process (for remote)
  size     recommend instance types from a results folder and a target
  report   re-render report.md and the SVG plots of a results folder
`

// errUsage is a flag or argument error: exit status 2.
var errUsage = errors.New("usage")

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	args := os.Args[2:]
	switch os.Args[1] {
	case "local":
		err = cmdLadder("local", args)
	case "compare":
		err = cmdLadder("compare", args)
	case "hostile":
		err = cmdHostile(args)
	case "remote":
		err = cmdRemote(args)
	case "agent":
		err = cmdAgent(args)
	case "size":
		err = cmdSize(args)
	case "report":
		err = cmdReport(args)
	case "-h", "-help", "--help", "help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "pilb-bench: unknown subcommand %q\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		fmt.Fprintf(os.Stderr, "pilb-bench: %v\n", err)
		os.Exit(2)
	default:
		fmt.Fprintf(os.Stderr, "pilb-bench: %v\n", err)
		os.Exit(1)
	}
}

// newFlagSet returns a flag set that prints its defaults on -h and
// leaves other errors to main, which prints them on one line.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("pilb-bench "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parse parses args, wrapping errors as usage errors.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(os.Stderr, "usage: %s [flags]\n", fs.Name())
			fs.SetOutput(os.Stderr)
			fs.PrintDefaults()
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return nil
}

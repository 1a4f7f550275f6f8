// Command attest checks Kubernetes manifests against policies.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/continuums/attest/internal/cli"
)

func main() {
	tuneGC()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, os.Args[1:], cli.Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	stop()
	os.Exit(code)
}

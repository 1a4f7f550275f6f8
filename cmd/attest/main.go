// Command attest checks Kubernetes manifests against policies.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/continuums/attest/internal/cli"
	"github.com/continuums/attest/internal/gctune"
)

func main() {
	gctune.Command(os.Getenv)
	ctx, stop := notifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, os.Args[1:], cli.Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	stop()
	os.Exit(code)
}

// notifyContext is signal.NotifyContext for one run: the first of sigs
// cancels the context, so the run stops what it can and reports; from
// then on the signals have their default handlers again, so a second one
// ends the process at once even when something does not stop (a read of
// a pipe nothing writes to). The returned context is done only once the
// handlers are back, and its cause is the signal's.
func notifyContext(parent context.Context, sigs ...os.Signal) (context.Context, context.CancelFunc) {
	sctx, stop := signal.NotifyContext(parent, sigs...)
	ctx, cancel := context.WithCancelCause(parent)
	context.AfterFunc(sctx, func() {
		stop()
		cancel(context.Cause(sctx))
	})
	return ctx, func() {
		stop()
		cancel(context.Canceled)
	}
}

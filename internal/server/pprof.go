package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// WithPprofAddr serves Go's profiler (net/http/pprof, under /debug/pprof/)
// on a listener of its own at addr, which must be loopback: profiles show
// the process's internals and cost CPU while they run, so they are for an
// operator on the node (kubectl port-forward), never for the Service.
// Off by default, as Gatekeeper's --enable-pprof is.
func WithPprofAddr(addr string) Option { return func(o *options) { o.pprofAddr = addr } }

// checkPprofAddr refuses an address that is not loopback.
func checkPprofAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("pprof address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("pprof address %q: only a loopback address is allowed (127.0.0.1:PORT)", addr)
	}
	return nil
}

// servePprof runs the profiler's listener until ctx is done.
func (s *Server) servePprof(ctx context.Context) (func(), error) {
	if s.o.pprofAddr == "" {
		return func() {}, nil
	}
	if err := checkPprofAddr(s.o.pprofAddr); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", s.o.pprofAddr)
	if err != nil {
		return nil, fmt.Errorf("pprof listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.LogAttrs(ctx, slog.LevelError, "pprof listener failed", slog.String("error", err.Error()))
		}
	}()
	s.log.LogAttrs(ctx, slog.LevelInfo, "serving pprof", slog.String("addr", ln.Addr().String()))
	return func() {
		srv.Close()
		<-done
	}, nil
}

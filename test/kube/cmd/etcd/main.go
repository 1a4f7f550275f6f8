// Command etcd is a single-member etcd (go.etcd.io/etcd/server/v3/embed, the
// version Kubernetes 1.37.2 pins) for the end-to-end test's kube-apiserver.
// It is for throwaway test data only: fsync is off.
//
//	etcd --data-dir DIR --listen-client-urls http://127.0.0.1:PORT --listen-peer-urls http://127.0.0.1:PORT
//
// It runs until SIGINT or SIGTERM, or until etcd fails.
package main

import (
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

func main() {
	dataDir := flag.String("data-dir", "", "data directory (required; use a fresh one per run)")
	clientURL := flag.String("listen-client-urls", "http://127.0.0.1:2379", "client URL (one)")
	peerURL := flag.String("listen-peer-urls", "http://127.0.0.1:2380", "peer URL (one)")
	logLevel := flag.String("log-level", "warn", "debug, info, warn, error")
	flag.Parse()
	if *dataDir == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: etcd --data-dir DIR [--listen-client-urls URL] [--listen-peer-urls URL]")
		os.Exit(2)
	}
	if err := run(*dataDir, *clientURL, *peerURL, *logLevel); err != nil {
		fmt.Fprintln(os.Stderr, "etcd:", err)
		os.Exit(1)
	}
}

func run(dataDir, clientURL, peerURL, logLevel string) error {
	client, err := url.Parse(clientURL)
	if err != nil {
		return fmt.Errorf("--listen-client-urls: %w", err)
	}
	peer, err := url.Parse(peerURL)
	if err != nil {
		return fmt.Errorf("--listen-peer-urls: %w", err)
	}
	cfg := embed.NewConfig()
	cfg.Name = "e2e"
	cfg.Dir = dataDir
	cfg.ListenClientUrls = []url.URL{*client}
	cfg.AdvertiseClientUrls = []url.URL{*client}
	cfg.ListenPeerUrls = []url.URL{*peer}
	cfg.AdvertisePeerUrls = []url.URL{*peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.UnsafeNoFsync = true
	cfg.LogLevel = logLevel

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return err
	}
	defer e.Close()
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(time.Minute):
		e.Server.Stop()
		return fmt.Errorf("not ready after a minute")
	}
	fmt.Fprintf(os.Stderr, "etcd ready on %s\n", client)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case err := <-e.Err():
		return err
	case <-sig:
		return nil
	}
}

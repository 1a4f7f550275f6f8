package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// certReloader rereads the certificate and key when either file changes,
// so a renewed certificate (cert-manager, a rotated Secret) is served
// without a restart. It looks at the files at most once a second, on a
// handshake.
//
// A change is noticed by content, not by size and modification time: a
// renewal renamed into place within one tick of the file system's coarse
// clock, at the same size, looks unchanged by its stat (the test caught
// that). Reading two files of a few KiB once a second costs nothing, and
// the pair is parsed from the very bytes compared, so no write can slip
// in between.
//
// A changed pair that does not load (a key that does not match, half a
// renewal: the certificate renamed into place before the key, a missing
// file) keeps the certificate in use, is logged and counted once, and is
// tried again when the files change again.
type certReloader struct {
	certFile, keyFile string
	mu                sync.Mutex
	cert              *tls.Certificate
	certPEM, keyPEM   []byte // the bytes cert was loaded from
	bad               string // what failed last (the files' content or the read error), counted once
	checked           time.Time
	every             time.Duration // how often the files are looked at
	log               *slog.Logger
	failed            func() // counts a failed reload
}

func newCertReloader(certFile, keyFile string, log *slog.Logger, failed func()) (*certReloader, error) {
	c := &certReloader{certFile: certFile, keyFile: keyFile, every: time.Second, log: log, failed: failed}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.failed == nil {
		c.failed = func() {}
	}
	certPEM, keyPEM, err := c.read()
	if err == nil {
		err = c.load(certPEM, keyPEM)
	}
	if err != nil {
		return nil, fmt.Errorf("TLS certificate: %w", err)
	}
	return c, nil
}

func (c *certReloader) read() (certPEM, keyPEM []byte, err error) {
	if certPEM, err = os.ReadFile(c.certFile); err != nil {
		return nil, nil, err
	}
	if keyPEM, err = os.ReadFile(c.keyFile); err != nil {
		return nil, nil, err
	}
	return certPEM, keyPEM, nil
}

func (c *certReloader) load(certPEM, keyPEM []byte) error {
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return err
	}
	c.cert, c.certPEM, c.keyPEM, c.bad = &cert, certPEM, keyPEM, ""
	return nil
}

// check reloads the pair if the files changed since the last load (or the
// last failed attempt).
func (c *certReloader) check(ctx context.Context) {
	certPEM, keyPEM, err := c.read()
	what := ""
	switch {
	case err != nil:
		what = "read: " + err.Error()
	case bytes.Equal(certPEM, c.certPEM) && bytes.Equal(keyPEM, c.keyPEM):
		c.bad = ""
		return
	default:
		what = string(certPEM) + "\x00" + string(keyPEM)
		if what != c.bad {
			err = c.load(certPEM, keyPEM)
		}
	}
	if what == c.bad {
		return // already counted
	}
	if err != nil {
		c.bad = what
		c.failed()
		c.log.LogAttrs(ctx, slog.LevelError, "TLS certificate reload failed; the previous certificate stays in use",
			slog.String("cert", c.certFile), slog.String("key", c.keyFile), slog.String("error", err.Error()))
		return
	}
	serial := ""
	if c.cert.Leaf != nil {
		serial = c.cert.Leaf.SerialNumber.Text(16)
	}
	c.log.LogAttrs(ctx, slog.LevelInfo, "TLS certificate reloaded",
		slog.String("cert", c.certFile), slog.String("serial", serial))
}

func (c *certReloader) get(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.checked) >= c.every {
		c.checked = time.Now()
		ctx := context.Background()
		if hello != nil {
			ctx = hello.Context()
		}
		c.check(ctx)
	}
	return c.cert, nil
}

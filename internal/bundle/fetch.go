package bundle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Fetcher downloads a bundle from a URL, revalidating with If-None-Match,
// so an unchanged bundle costs the server one 304 and no compile.
type Fetcher struct {
	url     string
	client  *http.Client
	timeout time.Duration

	mu   sync.Mutex
	etag string
}

// FetchOption configures NewFetcher.
type FetchOption func(*Fetcher)

// WithHTTPClient sets the client (TLS roots, proxies).
func WithHTTPClient(c *http.Client) FetchOption { return func(f *Fetcher) { f.client = c } }

// WithFetchTimeout bounds one download, so a bundle server that hangs
// does not hold the reload (default 30 s).
func WithFetchTimeout(d time.Duration) FetchOption { return func(f *Fetcher) { f.timeout = d } }

// NewFetcher fetches url.
func NewFetcher(url string, opts ...FetchOption) *Fetcher {
	f := &Fetcher{url: url, client: http.DefaultClient, timeout: 30 * time.Second}
	for _, o := range opts {
		o(f)
	}
	return f
}

// URL is where the bundle comes from.
func (f *Fetcher) URL() string { return f.url }

// Fetch downloads the bundle. With revalidate, it sends the last ETag and
// returns ErrNotModified on a 304. The ETag is remembered only once the
// caller calls Accept: a bundle that downloads but fails verification or
// compilation must be fetched again next time, not skipped as unchanged.
func (f *Fetcher) Fetch(ctx context.Context, revalidate bool) (data []byte, etag string, err error) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.url, nil)
	if err != nil {
		return nil, "", fmt.Errorf("bundle url: %w", err)
	}
	req.Header.Set("Accept", "application/gzip, application/octet-stream")
	sentETag := false
	if revalidate {
		f.mu.Lock()
		if f.etag != "" {
			req.Header.Set("If-None-Match", f.etag)
			sentETag = true
		}
		f.mu.Unlock()
	}
	// Redirects are followed (a CDN or object store may answer), but not
	// from HTTPS to plain HTTP: the bundle would then come unprotected.
	client := *f.client
	next := client.CheckRedirect
	client.CheckRedirect = func(r *http.Request, via []*http.Request) error {
		if via[0].URL.Scheme == "https" && r.URL.Scheme != "https" {
			return fmt.Errorf("redirect to %s: a bundle asked for over HTTPS is not fetched over %s", r.URL.Redacted(), r.URL.Scheme)
		}
		if next != nil {
			return next(r, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("download %s: %w", f.url, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified && sentETag:
		return nil, "", ErrNotModified
	case resp.StatusCode == http.StatusNotModified:
		return nil, "", fmt.Errorf("download %s: HTTP 304 Not Modified, but no ETag was sent: there is nothing it could refer to", f.url)
	case resp.StatusCode != http.StatusOK:
		snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		return nil, "", fmt.Errorf("download %s: HTTP %d %s", f.url, resp.StatusCode, strings.TrimSpace(string(snippet)))
	case resp.ContentLength > MaxSize:
		// Refused before a byte of it is read.
		return nil, "", fmt.Errorf("download %s: bundle of %d bytes, over the %d byte limit", f.url, resp.ContentLength, MaxSize)
	}
	// A buffer that grows with what arrives: the limit is checked as the
	// bytes come, not allocated up front.
	data, err = io.ReadAll(io.LimitReader(resp.Body, MaxSize+1))
	if err != nil {
		return nil, "", fmt.Errorf("download %s: %w", f.url, err)
	}
	if len(data) > MaxSize {
		return nil, "", fmt.Errorf("download %s: bundle over the %d byte limit", f.url, MaxSize)
	}
	return data, resp.Header.Get("ETag"), nil
}

// Accept remembers the ETag of the bundle now in use.
func (f *Fetcher) Accept(etag string) {
	f.mu.Lock()
	f.etag = etag
	f.mu.Unlock()
}

// Package kube reads the one thing attest serve needs from the cluster:
// the labels of its Namespaces, for Gatekeeper's namespaceSelector at
// admission. A metadata-only informer keeps every Namespace's metadata
// (never the objects' specs or status) in memory; a name it does not have
// yet is read from the API server, as Gatekeeper's webhook does for a
// namespace created a moment before the object under review.
package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
)

// DefaultGetTimeout bounds the read of one Namespace that is not in the
// cache. It is part of an admission request's time (the webhook's
// timeoutSeconds is 5 in deploy/), so it is short.
const DefaultGetTimeout = 2 * time.Second

var namespacesResource = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}

// Namespaces answers "what are the labels of Namespace N" from a cache of
// the cluster's Namespaces' metadata, kept up to date by a watch, and from
// the API server when the cache does not have N. It implements
// gatekeeper.NamespaceLookup.
type Namespaces struct {
	client     metadata.Interface
	informer   cache.SharedIndexInformer
	getTimeout time.Duration
	log        *slog.Logger

	// read remembers the answers of direct reads for readTTL: every
	// constraint with a namespaceSelector asks for the review's
	// Namespace, and on a cache miss each would otherwise be a GET of its
	// own inside the same admission request.
	mu   sync.Mutex
	read map[string]directRead
	now  func() time.Time
}

// readTTL is how long a direct read's answer is used, well under the time
// the watch takes to bring the Namespace into the cache.
const readTTL = time.Second

type directRead struct {
	labels map[string]string
	found  bool
	at     time.Time
}

type options struct {
	getTimeout time.Duration
	log        *slog.Logger
}

// Option configures NewNamespaces.
type Option func(*options)

// WithGetTimeout bounds the read of a Namespace the cache does not have
// (default DefaultGetTimeout).
func WithGetTimeout(d time.Duration) Option { return func(o *options) { o.getTimeout = d } }

// WithLogger is where the informer's errors (a watch that fails, a list
// refused for want of RBAC) and the reads that missed the cache go
// (default: nowhere).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// NewNamespaces makes the cache for the cluster cfg points at. It reads
// nothing until Start.
func NewNamespaces(cfg *rest.Config, opts ...Option) (*Namespaces, error) {
	cfg = rest.CopyConfig(cfg)
	if cfg.UserAgent == "" {
		cfg.UserAgent = "attest"
	}
	if cfg.QPS == 0 && cfg.Burst == 0 && cfg.RateLimiter == nil {
		// client-go's default (5/s, bursts of 10) would queue a burst of
		// reads for Namespaces the cache does not have yet behind each
		// other, inside admission requests.
		cfg.QPS, cfg.Burst = 20, 50
	}
	client, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return newNamespaces(client, opts...), nil
}

func newNamespaces(client metadata.Interface, opts ...Option) *Namespaces {
	o := options{getTimeout: DefaultGetTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	// No resync: nothing handles the events, the cache is only read.
	inf := metadatainformer.NewFilteredMetadataInformer(client, namespacesResource, "", 0, cache.Indexers{}, nil).Informer()
	// Only names and labels are read: managed fields and annotations
	// (kubectl's last-applied-configuration among them) are dropped
	// before they are stored. SetTransform fails only once the informer
	// has started, which it has not.
	_ = inf.SetTransform(func(obj any) (any, error) {
		if m, ok := obj.(*metav1.PartialObjectMetadata); ok {
			m.ManagedFields = nil
			m.Annotations = nil
		}
		return obj, nil
	})
	return &Namespaces{client: client, informer: inf, getTimeout: o.getTimeout, log: o.log,
		read: map[string]directRead{}, now: time.Now}
}

// Start lists and watches the cluster's Namespaces until ctx is done, in
// the background; HasSynced says when the first list is in. client-go's
// own messages (a watch that fails and is retried) go to the logger.
func (n *Namespaces) Start(ctx context.Context) {
	ctx = klog.NewContext(ctx, logr.FromSlogHandler(n.log.Handler()))
	go n.informer.RunWithContext(ctx)
}

// HasSynced reports whether the cache holds every Namespace the first
// list returned; until then Labels reads most names from the API server.
func (n *Namespaces) HasSynced() bool { return n.informer.HasSynced() }

// Labels gives the labels of the Namespace called name, and false when
// the cluster has none. The cache answers when it has the Namespace;
// otherwise one read from the API server (bounded by the get timeout and
// ctx) does: a Namespace created just now may not have reached the cache.
// The map is shared: it is only to be read.
func (n *Namespaces) Labels(ctx context.Context, name string) (map[string]string, bool, error) {
	if obj, ok, err := n.informer.GetIndexer().GetByKey(name); err == nil && ok {
		if m, ok := obj.(*metav1.PartialObjectMetadata); ok {
			return m.Labels, true, nil
		}
	}
	now := n.now()
	n.mu.Lock()
	r, ok := n.read[name]
	n.mu.Unlock()
	if ok && now.Sub(r.at) < readTTL {
		return r.labels, r.found, nil
	}
	gctx, cancel := context.WithTimeout(ctx, n.getTimeout)
	defer cancel()
	m, err := n.client.Resource(namespacesResource).Get(gctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		n.remember(name, directRead{at: now})
		return nil, false, nil
	case err != nil && errors.Is(gctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil:
		return nil, false, fmt.Errorf("read Namespace %s from the API server: no answer within %s", name, n.getTimeout)
	case err != nil:
		return nil, false, fmt.Errorf("read Namespace %s from the API server: %w", name, err)
	}
	n.log.LogAttrs(ctx, slog.LevelDebug, "Namespace not in the cache yet: read from the API server", slog.String("namespace", name))
	n.remember(name, directRead{labels: m.Labels, found: true, at: now})
	return m.Labels, true, nil
}

// remember keeps a direct read's answer (failed reads are not kept: the
// next ask tries again) and forgets the expired ones.
func (n *Namespaces) remember(name string, r directRead) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for k, old := range n.read {
		if r.at.Sub(old.at) >= readTTL {
			delete(n.read, k)
		}
	}
	n.read[name] = r
}

// ErrNotInCluster: no kubeconfig was given and the process does not run in
// a pod, so there is no cluster to read.
var ErrNotInCluster = errors.New("no kubeconfig given and not running in a Kubernetes pod")

// Config is the client configuration for the cluster: from the kubeconfig
// file when one is given (its current context), else the pod's service
// account (in-cluster), else ErrNotInCluster. A kubeconfig that cannot be
// read, or a pod without its service account token, is an error.
func Config(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		// The file alone: no in-cluster fallback for an empty one, no
		// KUBECONFIG or ~/.kube/config merged in.
		raw, err := clientcmd.LoadFromFile(kubeconfig)
		if err == nil {
			// Files it names (certificate-authority: ca.crt) are
			// relative to it, as kubectl reads them.
			err = clientcmd.ResolveLocalPaths(raw)
		}
		if err != nil {
			return nil, fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
		}
		cfg, err := clientcmd.NewDefaultClientConfig(*raw, &clientcmd.ConfigOverrides{}).ClientConfig()
		switch {
		case clientcmd.IsEmptyConfig(err):
			return nil, fmt.Errorf("kubeconfig %s: no current context with a cluster", kubeconfig)
		case err != nil:
			return nil, fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
		}
		return cfg, nil
	}
	cfg, err := rest.InClusterConfig()
	switch {
	case errors.Is(err, rest.ErrNotInCluster):
		return nil, ErrNotInCluster
	case err != nil:
		return nil, fmt.Errorf("in-cluster configuration (the pod's service account): %w", err)
	}
	return cfg, nil
}

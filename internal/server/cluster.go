package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/continuums/attest/internal/gatekeeper"
	"github.com/continuums/attest/internal/kube"
)

// ClusterCache is cluster state the server's policies read (the
// Namespaces' labels, for Gatekeeper's namespaceSelector): started by Run.
// While the policies have a constraint with a namespaceSelector, /readyz
// answers 503 until it has synced, so that a replica does not take
// traffic with an empty cache; policies that never read a Namespace's
// labels do not wait for it (a replica without the RBAC to list
// Namespaces still serves them). Requests that come before are still
// answered (a Namespace the cache does not have is read from the API
// server).
type ClusterCache interface {
	Start(ctx context.Context)
	HasSynced() bool
}

// WithClusterCache has Run start c and /readyz wait for it.
func WithClusterCache(c ClusterCache) Option { return func(o *options) { o.cluster = c } }

func (s *Server) clusterSynced() bool { return s.o.cluster == nil || s.o.cluster.HasSynced() }

// What attest serve reads the cluster's Namespaces with is what the
// Gatekeeper match asks for.
var _ gatekeeper.NamespaceLookup = (*kube.Namespaces)(nil)

// ClusterNamespaces is how `attest serve` reads the cluster's Namespaces
// (--cluster-namespaces): through the kubeconfig file when one is given,
// else as the pod's service account. Outside a pod and without a
// kubeconfig there is no cluster to read: that is logged, and it returns
// nil (a namespaceSelector then has only the Namespaces among the
// inputs, which at admission are none). A kubeconfig that cannot be
// loaded, or a pod without its service account token, is an error.
func ClusterNamespaces(kubeconfig string, log *slog.Logger) (*kube.Namespaces, error) {
	cfg, err := kube.Config(kubeconfig)
	if errors.Is(err, kube.ErrNotInCluster) {
		log.Info("not running in a Kubernetes pod and no --kubeconfig: Namespace labels are not read from the cluster, so a Gatekeeper namespaceSelector matches no object in a namespace")
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the cluster's Namespaces (--cluster-namespaces): %w", err)
	}
	ns, err := kube.NewNamespaces(cfg, kube.WithLogger(log))
	if err != nil {
		return nil, fmt.Errorf("reading the cluster's Namespaces (--cluster-namespaces): %w", err)
	}
	log.Info("reading the cluster's Namespace labels", slog.String("api_server", cfg.Host))
	return ns, nil
}

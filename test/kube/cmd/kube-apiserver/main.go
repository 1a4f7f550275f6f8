// Command kube-apiserver is the real Kubernetes API server, built from the
// k8s.io/kubernetes module for the end-to-end test of attest's admission
// webhook (see ../../e2e_test.go). It is upstream's
// cmd/kube-apiserver/apiserver.go, nothing more.
//
// Build it with the version set, or clients cannot parse the server version:
//
//	go build -ldflags "-X k8s.io/component-base/version.gitVersion=v1.37.2 \
//	  -X k8s.io/component-base/version.gitMajor=1 \
//	  -X k8s.io/component-base/version.gitMinor=37" -o ../../../../.bin/kube-apiserver .
package main

import (
	"os"
	_ "time/tzdata" // for CronJob time zones, as upstream

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // for JSON log format registration
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // load all the prometheus client-go plugins
	_ "k8s.io/component-base/metrics/prometheus/version"  // for version metric registration
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}

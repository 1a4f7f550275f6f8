// The end-to-end test of attest's admission webhook against a real
// kube-apiserver (issue 4, "Proof with a real Kubernetes API server").
//
// It starts, as real processes on 127.0.0.1 with random free ports:
// etcd and kube-apiserver built from this module (cmd/etcd,
// cmd/kube-apiserver), and `attest serve` built from the main module, with a
// generated CA. It registers deploy/webhook.yaml (the real file) and talks to
// the API server with client-go, as a user would. Only the API server runs:
// no controller-manager, no scheduler, no kubelet, so pods stay Pending and
// nothing creates ServiceAccounts; the test creates what it needs.
//
// The binaries go to the repository's .bin/ (ignored by git). `go build` runs
// every time: it is a second when nothing changed, several minutes the
// first time for kube-apiserver (see docs/testing.md).
//
// attest serve reads the cluster's Namespaces (for Gatekeeper's
// namespaceSelector) through a kubeconfig for a user named as its
// ServiceAccount in deploy/, which may do nothing until the test grants
// it a get alone, and then deploy/rbac.yaml itself.
package kube

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"iter"
	"maps"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"
)

// The webhook's name in deploy/webhook.yaml, as kube-apiserver quotes it in
// its errors.
const webhookName = "validate.attest.continuu.ms"

// attest's denial message for a privileged container (library rule
// attest-security/privileged-containers), as the webhook's status.message
// writes it: "[policy] message".
const privilegedMessage = "[attest-security] Privileged containers are not allowed: "

// The version the API server reports (clients such as kubectl parse it).
const kubeVersion = "v1.37.2"

// kubeVersionLDFlags builds kube-apiserver with kubeVersion.
const kubeVersionLDFlags = "-s -w" +
	" -X k8s.io/component-base/version.gitVersion=" + kubeVersion +
	" -X k8s.io/component-base/version.gitMajor=1" +
	" -X k8s.io/component-base/version.gitMinor=37"

func TestAdmissionWebhookOnRealAPIServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts etcd, kube-apiserver and attest serve (and builds them the first time, which takes minutes)")
	}
	ctx := t.Context()
	root := repoRoot(t)
	bin := buildBinaries(t, root)
	tmp := t.TempDir()

	etcdURL := startEtcd(t, bin.etcd, tmp)
	kube := startAPIServer(t, bin.apiserver, etcdURL, tmp)
	warnings := &warningCollector{}
	cfg := rest.CopyConfig(kube.config)
	cfg.WarningHandler = warnings
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := client.Discovery().ServerVersion(); err != nil || v.GitVersion != kubeVersion {
		t.Fatalf("server version = %v, %v; want %s", v, err, kubeVersion)
	}

	// Namespaces and their `default` ServiceAccount (no controller-manager
	// creates it, and without it every pod is refused before any webhook is
	// called). kube-system exists (the API server creates it) but has none.
	ns := map[string]string{}
	for _, c := range []string{"privileged", "compliant", "warn", "exempt", "down"} {
		ns[c] = "e2e-" + c
		createNamespace(t, client, ns[c], nil)
	}
	createServiceAccount(t, client, "kube-system", "default")
	createServiceAccount(t, client, "kube-system", "web") // excluded from the webhook

	// attest serve with TLS from a generated CA, on a project that makes
	// resource-limits warn-mode and honours annotation exemptions.
	pki := newPKI(t, tmp)
	at := startAttest(t, bin.attest, pki, writeProject(t, tmp), writeKubeconfig(t, kube, tmp), tmp)

	// deploy/webhook.yaml, the file itself, pointed at this attest.
	want := readWebhookConfig(t, filepath.Join(root, "deploy", "webhook.yaml"))
	vwc := want.DeepCopy()
	for i := range vwc.Webhooks {
		w := &vwc.Webhooks[i]
		if w.ClientConfig.Service == nil || w.ClientConfig.Service.Path == nil {
			t.Fatalf("deploy/webhook.yaml: webhook %s has no clientConfig.service.path", w.Name)
		}
		// kube-apiserver reaches a Service through the cluster's DNS and
		// kube-proxy (or the Service's Endpoints), none of which exist here,
		// and the API server refuses Endpoints on a loopback address
		// (127.0.0.0/8 fails validation). So the one substitution: the
		// same path, on attest's loopback address, by URL.
		u := "https://" + at.addr + *w.ClientConfig.Service.Path
		w.ClientConfig = admissionregistrationv1.WebhookClientConfig{URL: &u, CABundle: pki.caPEM}
	}
	created, err := client.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, vwc, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating the ValidatingWebhookConfiguration of deploy/webhook.yaml: %v", err)
	}
	// What the file says about when the webhook is called and what
	// happens when it cannot answer is what the API server stored.
	if len(created.Webhooks) != len(want.Webhooks) {
		t.Fatalf("stored %d webhooks, the file has %d", len(created.Webhooks), len(want.Webhooks))
	}
	for i, got := range created.Webhooks {
		w := want.Webhooks[i]
		for _, f := range []struct {
			name      string
			got, want any
		}{
			{"name", got.Name, w.Name},
			{"rules", got.Rules, w.Rules},
			{"namespaceSelector", got.NamespaceSelector, w.NamespaceSelector},
			{"failurePolicy", got.FailurePolicy, w.FailurePolicy},
			{"timeoutSeconds", got.TimeoutSeconds, w.TimeoutSeconds},
			{"sideEffects", got.SideEffects, w.SideEffects},
			{"matchPolicy", got.MatchPolicy, w.MatchPolicy},
			{"admissionReviewVersions", got.AdmissionReviewVersions, w.AdmissionReviewVersions},
		} {
			if !reflect.DeepEqual(f.got, f.want) {
				t.Errorf("webhook %s: stored %s = %s, deploy/webhook.yaml has %s", w.Name, f.name, jsonString(f.got), jsonString(f.want))
			}
		}
	}
	if want.Webhooks[0].FailurePolicy == nil || *want.Webhooks[0].FailurePolicy != admissionregistrationv1.Fail {
		t.Fatalf("deploy/webhook.yaml: failurePolicy is not Fail; case (e) tests Fail")
	}

	// A new configuration takes effect within milliseconds, but not
	// synchronously: ask (dry run, which webhooks with sideEffects: None
	// see too) until attest is the one refusing a privileged pod.
	at.waitForDenial(t, "the webhook to take effect", privilegedMessage, func() error {
		_, err := client.CoreV1().Pods(ns["privileged"]).Create(ctx, privilegedPod("probe"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err
	})

	// ServiceAccounts are among the webhook's resources: these go through
	// attest, which must let them in.
	for _, n := range slices.Sorted(maps.Values(ns)) {
		warnings.take()
		createServiceAccount(t, client, n, "web")
		if w := attestWarnings(warnings.take()); len(w) > 0 {
			t.Errorf("ServiceAccount %s/web: attest warned %q", n, w)
		}
	}

	t.Run("a Gatekeeper namespaceSelector reads the cluster's Namespaces", func(t *testing.T) {
		testNamespaceSelector(t, client, at, root)
	})

	t.Run("a privileged pod is refused with attest's message", func(t *testing.T) {
		_, err := client.CoreV1().Pods(ns["privileged"]).Create(ctx, privilegedPod("privileged"), metav1.CreateOptions{})
		if err == nil {
			t.Fatal("privileged pod admitted")
		}
		assertDenied(t, client, err, ns["privileged"], "privileged", privilegedMessage+"app")
		// attest's status details (one cause per failing finding) come
		// through the API server.
		var status apierrors.APIStatus
		if !errors.As(err, &status) || status.Status().Details == nil || !hasCause(status.Status().Details.Causes, privilegedMessage) {
			t.Errorf("no status cause for the privileged container in %s", jsonString(status))
		}

		// kube-system is excluded by the file's namespaceSelector: the
		// same pod goes in there without attest being asked.
		if _, err := client.CoreV1().Pods("kube-system").Create(ctx, privilegedPod("privileged"), metav1.CreateOptions{}); err != nil {
			t.Errorf("privileged pod in kube-system (excluded from the webhook) refused: %v", err)
		}
	})

	t.Run("a compliant Deployment is admitted", func(t *testing.T) {
		warnings.take()
		d, err := client.AppsV1().Deployments(ns["compliant"]).Create(ctx, compliantDeployment(ns["compliant"], true), metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("compliant Deployment refused: %v", err)
		}
		if w := attestWarnings(warnings.take()); len(w) > 0 {
			t.Errorf("compliant Deployment: attest warned %q", w)
		}
		if _, err := client.AppsV1().Deployments(ns["compliant"]).Get(ctx, d.Name, metav1.GetOptions{}); err != nil {
			t.Errorf("admitted Deployment not stored: %v", err)
		}
		// And the same workload as a bare pod.
		if _, err := client.CoreV1().Pods(ns["compliant"]).Create(ctx, compliantPod("web", nil), metav1.CreateOptions{}); err != nil {
			t.Errorf("compliant pod refused: %v", err)
		}
	})

	t.Run("a warn-mode finding is admitted with a warning", func(t *testing.T) {
		warnings.take()
		// No limits: resource-limits/limits-required, warn-mode in the
		// test project.
		d := compliantDeployment(ns["warn"], false)
		if _, err := client.AppsV1().Deployments(ns["warn"]).Create(ctx, d, metav1.CreateOptions{}); err != nil {
			t.Fatalf("Deployment with a warn-mode finding refused: %v", err)
		}
		got := warnings.take()
		wantWarning := "[resource-limits] Container 'web' has no cpu or memory limit"
		if !slices.Contains(got, wantWarning) {
			t.Errorf("warnings = %q, want %q", got, wantWarning)
		}
		if _, err := client.AppsV1().Deployments(ns["warn"]).Get(ctx, d.Name, metav1.GetOptions{}); err != nil {
			t.Errorf("admitted Deployment not stored: %v", err)
		}
	})

	t.Run("an annotation exemption is honoured", func(t *testing.T) {
		// Compliant but privileged: one strict finding, and only that.
		pod := compliantPod("debug", nil)
		sc := pod.Spec.Containers[0].SecurityContext
		sc.Privileged = ptr(true)
		sc.AllowPrivilegeEscalation = nil // the API server refuses privileged with false
		_, err := client.CoreV1().Pods(ns["exempt"]).Create(ctx, pod, metav1.CreateOptions{})
		if err == nil || !strings.Contains(err.Error(), privilegedMessage+"web") {
			t.Fatalf("without the exemption: err = %v, want attest's denial %q", err, privilegedMessage+"web")
		}
		pod.Annotations = map[string]string{
			"policy.attest.continuu.ms/exempt":             "attest-security/privileged-containers",
			"policy.attest.continuu.ms/exempt-reason":      "node debugging during an incident",
			"policy.attest.continuu.ms/exempt-approved-by": "security-team@company.com",
			"policy.attest.continuu.ms/exempt-expires":     time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339),
		}
		warnings.take()
		if _, err := client.CoreV1().Pods(ns["exempt"]).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatalf("exempted pod refused: %v", err)
		}
		if w := attestWarnings(warnings.take()); len(w) > 0 {
			t.Errorf("exempted pod: attest warned %q", w)
		}
		// The decision log says the finding was exempted, for this request
		// from this user.
		rec := findDecision(t, at.decisionLog, ns["exempt"], "debug", "allowed")
		if rec.User != adminUser {
			t.Errorf("decision log user = %q, want %q", rec.User, adminUser)
		}
		exempted := false
		for _, f := range rec.Findings {
			exempted = exempted || (f.Policy == "attest-security" && strings.Contains(f.Rule, "privileged-containers") && f.Exemption != "")
		}
		if !exempted {
			t.Errorf("decision %s: no exempted privileged-containers finding", jsonString(rec))
		}
	})

	t.Run("with attest stopped failurePolicy Fail refuses and kube-system is excluded", func(t *testing.T) {
		at.proc.kill()
		poll(t, "attest's port to refuse connections", 30*time.Second, nil, func() (bool, error) {
			c, err := net.DialTimeout("tcp", at.addr, time.Second)
			if err != nil {
				return true, nil
			}
			c.Close()
			return false, errors.New("still accepting connections")
		})

		// A pod attest would admit is refused: nobody checked it.
		_, err := client.CoreV1().Pods(ns["down"]).Create(ctx, compliantPod("web", nil), metav1.CreateOptions{})
		if err == nil {
			t.Fatal("pod admitted with the webhook down (failurePolicy: Fail)")
		}
		if msg := err.Error(); !strings.Contains(msg, `failed calling webhook "`+webhookName+`"`) {
			t.Errorf("error %q does not say the webhook call failed", msg)
		}
		assertNotFound(t, client, ns["down"], "web")

		// kube-system is excluded, so the cluster can still be repaired.
		if _, err := client.CoreV1().Pods("kube-system").Create(ctx, compliantPod("web", nil), metav1.CreateOptions{}); err != nil {
			t.Errorf("pod in kube-system refused with attest down: %v", err)
		}
	})
}

// gatekeeperMessage is the denial of writeProject's constraint for a pod in
// namespace ns, as attest's status message writes it.
func gatekeeperMessage(ns string) string {
	return "[k8se2edenypods] no pods in " + ns + ": its Namespace is labelled e2e-gatekeeper=enforce"
}

// testNamespaceSelector: attest serve reads the labels of the request's
// Namespace from the cluster for a Gatekeeper namespaceSelector, as
// Gatekeeper's webhook does. It starts with no permission to read them,
// is granted a get (so every Namespace is read from the API server, the
// cache cannot fill), then deploy/rbac.yaml (the cache fills and /readyz
// turns 200).
func testNamespaceSelector(t *testing.T, client kubernetes.Interface, at *attestServer, root string) {
	ctx := t.Context()
	const enforced, free = "e2e-gk-enforced", "e2e-gk-free"
	enforce := map[string]string{"e2e-gatekeeper": "enforce"}
	// A Namespace for pods of compliantPod, which run as its "web".
	podNamespace := func(name string, labels map[string]string) {
		t.Helper()
		createNamespace(t, client, name, labels)
		createServiceAccount(t, client, name, "web")
	}
	podNamespace(enforced, enforce)
	podNamespace(free, nil)
	createPod := func(ns string, dryRun bool) error {
		opts := metav1.CreateOptions{}
		if dryRun {
			opts.DryRun = []string{metav1.DryRunAll}
		}
		_, err := client.CoreV1().Pods(ns).Create(ctx, compliantPod("web", nil), opts)
		return err
	}
	// refused: the pod is refused by the constraint, with its message, and
	// not stored.
	refused := func(ns string) {
		t.Helper()
		assertDenied(t, client, createPod(ns, false), ns, "web", gatekeeperMessage(ns))
	}
	admitted := func(ns string) {
		t.Helper()
		if err := createPod(ns, false); err != nil {
			t.Errorf("pod in %s refused: %v", ns, err)
			return
		}
		if err := client.CoreV1().Pods(ns).Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
			t.Error(err)
		}
	}
	readyz := func() (int, string) {
		t.Helper()
		code, body, err := at.readyz()
		if err != nil {
			t.Fatal(err)
		}
		return code, body
	}

	// 1. attest's user may not read Namespaces: it cannot tell whether
	// the constraint applies, and refuses, saying why (Gatekeeper's
	// webhook refuses a request whose Namespace it cannot get). It is not
	// ready: its cache cannot fill.
	if code, body := readyz(); code != http.StatusServiceUnavailable || !strings.Contains(body, namespacesNotRead) {
		t.Fatalf("/readyz without RBAC: %d %q, want 503 %q", code, body, namespacesNotRead)
	}
	err := createPod(enforced, false)
	wantErr := `[k8se2edenypods] policy evaluation failed: constraint enforced-namespaces: cannot read the labels of Namespace "` + enforced + `" for the namespaceSelector: read Namespace ` + enforced + ` from the API server: namespaces "` + enforced + `" is forbidden: User "` + attestUser + `" cannot get resource "namespaces"`
	if err == nil || !strings.Contains(err.Error(), wantErr) {
		t.Fatalf("pod in %s with Namespaces unreadable: %v; want a refusal with %q", enforced, err, wantErr)
	}
	assertNotFound(t, client, enforced, "web")

	// 2. get alone: every Namespace is read from the API server (list and
	// watch are still refused, so the cache stays empty and attest
	// unready), and the constraint decides.
	getOnly := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "e2e-namespace-get"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get"}}}}
	getBinding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "e2e-namespace-get"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: getOnly.Name},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "attest", Namespace: "attest-system"}}}
	if _, err := client.RbacV1().ClusterRoles().Create(ctx, getOnly, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.RbacV1().ClusterRoleBindings().Create(ctx, getBinding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	at.waitForDenial(t, "attest's get of Namespaces to be allowed", gatekeeperMessage(enforced), func() error { return createPod(enforced, true) })
	refused(enforced)
	admitted(free)
	// A Namespace created just now, and a pod in it at once.
	podNamespace("e2e-gk-new", enforce)
	refused("e2e-gk-new")
	if code, body := readyz(); code != http.StatusServiceUnavailable || !strings.Contains(body, namespacesNotRead) {
		t.Errorf("/readyz with get alone: %d %q, want 503: the cache cannot be filled", code, body)
	}
	for _, ns := range []string{enforced, free, "e2e-gk-new"} {
		if !logged(t, at, ns) {
			t.Errorf("attest's log does not say Namespace %s was read from the API server", ns)
		}
	}

	// 3. deploy/rbac.yaml, as written: attest reads and watches the
	// Namespaces, its cache fills, /readyz turns 200, and Namespaces
	// created or relabelled afterwards are seen.
	if err := client.RbacV1().ClusterRoleBindings().Delete(ctx, getBinding.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	applyRBAC(t, client, filepath.Join(root, "deploy", "rbac.yaml"))
	poll(t, "attest's /readyz with deploy/rbac.yaml", 2*time.Minute, []*process{at.proc}, func() (bool, error) {
		code, body, err := at.readyz()
		return err == nil && code == http.StatusOK, fmt.Errorf("%d %s %v", code, body, err)
	})
	refused(enforced)
	admitted(free)
	podNamespace("e2e-gk-late", enforce)
	refused("e2e-gk-late")
	// Labelling a Namespace reaches attest through its watch.
	nsObj, err := client.CoreV1().Namespaces().Get(ctx, free, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	nsObj.Labels = maps.Clone(nsObj.Labels)
	maps.Copy(nsObj.Labels, enforce)
	if _, err := client.CoreV1().Namespaces().Update(ctx, nsObj, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	at.waitForDenial(t, "the new label to reach attest", gatekeeperMessage(free), func() error { return createPod(free, true) })
	refused(free)
}

// logged reports whether attest's log says it read Namespace ns from the
// API server (not from its cache).
func logged(t *testing.T, at *attestServer, ns string) bool {
	t.Helper()
	for line := range wholeLines(t, at.proc.log) {
		var rec struct {
			Msg       string `json:"msg"`
			Namespace string `json:"namespace"`
		}
		if json.Unmarshal(line, &rec) == nil && rec.Namespace == ns && strings.Contains(rec.Msg, "read from the API server") {
			return true
		}
	}
	return false
}

// applyRBAC creates the ClusterRoles and ClusterRoleBindings of a file of
// deploy/, read strictly.
func applyRBAC(t *testing.T, client kubernetes.Interface, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var roles, bindings int
	for _, doc := range strings.Split(string(data), "\n---\n") {
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		switch meta.Kind {
		case "ClusterRole":
			createFromYAML(t, path, meta.Kind, doc, client.RbacV1().ClusterRoles())
			roles++
		case "ClusterRoleBinding":
			createFromYAML(t, path, meta.Kind, doc, client.RbacV1().ClusterRoleBindings())
			bindings++
		default:
			t.Fatalf("%s: unexpected kind %q", path, meta.Kind)
		}
	}
	if roles == 0 || bindings == 0 {
		t.Fatalf("%s: %d ClusterRoles and %d ClusterRoleBindings, want both", path, roles, bindings)
	}
}

// createFromYAML reads doc, a document of the file at path of the given
// kind, strictly into a T and creates it with c.
func createFromYAML[T any, PT interface {
	*T
	metav1.Object
}](t *testing.T, path, kind, doc string, c interface {
	Create(context.Context, PT, metav1.CreateOptions) (PT, error)
}) {
	t.Helper()
	obj := PT(new(T))
	if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if _, err := c.Create(t.Context(), obj, metav1.CreateOptions{}); err != nil {
		t.Fatalf("%s: %s %s: %v", path, kind, obj.GetName(), err)
	}
}

// ---- objects ----

func ptr[T any](v T) *T { return &v }

// privilegedPod breaks many rules, among them the strict
// attest-security/privileged-containers.
func privilegedPod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name:            "app",
			Image:           "busybox",
			SecurityContext: &corev1.SecurityContext{Privileged: ptr(true)},
		}}},
	}
}

// podSpec passes every built-in rule: pinned image from a registry,
// requests and limits (when limits is true), probes, non-root, read-only
// root filesystem, no capabilities, seccomp, its own ServiceAccount with no
// token mounted. `attest policy check` finds nothing in it.
func podSpec(limits bool) corev1.PodSpec {
	res := corev1.ResourceRequirements{Requests: corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi"),
	}}
	if limits {
		res.Limits = corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("128Mi"),
		}
	}
	probe := func(path string) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString("http")}}}
	}
	return corev1.PodSpec{
		ServiceAccountName:           "web",
		AutomountServiceAccountToken: ptr(false),
		SecurityContext: &corev1.PodSecurityContext{
			RunAsNonRoot:   ptr(true),
			RunAsUser:      ptr(int64(65532)),
			RunAsGroup:     ptr(int64(65532)),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		Containers: []corev1.Container{{
			Name:           "web",
			Image:          "registry.company.com/web:1.0.0@sha256:" + strings.Repeat("0", 64),
			Ports:          []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
			Resources:      res,
			LivenessProbe:  probe("/healthz"),
			ReadinessProbe: probe("/readyz"),
			SecurityContext: &corev1.SecurityContext{
				AllowPrivilegeEscalation: ptr(false),
				ReadOnlyRootFilesystem:   ptr(true),
				RunAsNonRoot:             ptr(true),
				Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			},
		}},
	}
}

func webLabels() map[string]string {
	return map[string]string{"app.kubernetes.io/name": "web", "owner": "platform-team"}
}

func compliantPod(name string, annotations map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: webLabels(), Annotations: annotations},
		Spec:       podSpec(true),
	}
}

func compliantDeployment(namespace string, limits bool) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: namespace, Labels: webLabels()},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr(int32(2)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: webLabels()},
				Spec:       podSpec(limits),
			},
		},
	}
}

// createNamespace creates Namespace name with its "default" ServiceAccount
// (no controller-manager creates it, and without it every pod is refused
// before any webhook is called).
func createNamespace(t *testing.T, client kubernetes.Interface, name string, labels map[string]string) {
	t.Helper()
	if _, err := client.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	createServiceAccount(t, client, name, "default")
}

func createServiceAccount(t *testing.T, client kubernetes.Interface, namespace, name string) {
	t.Helper()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}
	_, err := client.CoreV1().ServiceAccounts(namespace).Create(t.Context(), sa, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("ServiceAccount %s/%s: %v", namespace, name, err)
	}
}

// assertDenied checks that err is the API server's 403 for pod
// namespace/name with the denial of attest's webhook, carrying msg, and
// that the pod was not stored.
func assertDenied(t *testing.T, client kubernetes.Interface, err error, namespace, name, msg string) {
	t.Helper()
	if err == nil {
		t.Errorf("pod %s/%s admitted; want attest's denial %q", namespace, name, msg)
		return
	}
	if !apierrors.IsForbidden(err) {
		t.Errorf("pod %s/%s: error is not 403 Forbidden: %v", namespace, name, err)
	}
	for _, s := range []string{`admission webhook "` + webhookName + `" denied the request`, msg} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("pod %s/%s: error %q does not contain %q", namespace, name, err, s)
		}
	}
	assertNotFound(t, client, namespace, name)
}

func assertNotFound(t *testing.T, client kubernetes.Interface, namespace, name string) {
	t.Helper()
	_, err := client.CoreV1().Pods(namespace).Get(t.Context(), name, metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("pod %s/%s: Get = %v, want NotFound (it must not have been stored)", namespace, name, err)
	}
}

func hasCause(causes []metav1.StatusCause, prefix string) bool {
	for _, c := range causes {
		if strings.Contains(c.Message, prefix) {
			return true
		}
	}
	return false
}

// readWebhookConfig reads deploy/webhook.yaml strictly: a field the API
// types do not know is an error, not silently dropped.
func readWebhookConfig(t *testing.T, path string) *admissionregistrationv1.ValidatingWebhookConfiguration {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var vwc admissionregistrationv1.ValidatingWebhookConfiguration
	if err := yaml.UnmarshalStrict(data, &vwc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if vwc.Kind != "ValidatingWebhookConfiguration" || len(vwc.Webhooks) == 0 {
		t.Fatalf("%s: not a ValidatingWebhookConfiguration with webhooks", path)
	}
	return &vwc
}

// ---- warnings and the decision log ----

// warningCollector is the client's rest.WarningHandler: it keeps the
// Warning headers of the API server's responses (which carry the
// webhook's response.warnings).
type warningCollector struct {
	mu   sync.Mutex
	list []string
}

func (w *warningCollector) HandleWarningHeader(code int, agent, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

// take returns the warnings so far and forgets them.
func (w *warningCollector) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := w.list
	w.list = nil
	return l
}

// attestWarnings keeps the warnings attest wrote ("[policy] ..." or
// "attest: ..."), not the API server's own.
func attestWarnings(ws []string) []string {
	var out []string
	for _, w := range ws {
		if strings.HasPrefix(w, "[") || strings.HasPrefix(w, "attest: ") {
			out = append(out, w)
		}
	}
	return out
}

type decision struct {
	Msg       string `json:"msg"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	User      string `json:"user"`
	Decision  string `json:"decision"`
	Findings  []struct {
		Policy    string `json:"policy"`
		Rule      string `json:"rule"`
		Exemption string `json:"exemption"`
	} `json:"findings"`
}

// findDecision returns the last decision-log record for namespace/name with
// the given outcome. attest batches the decision log (written every 100 ms,
// docs/serve.md), so the file is read again until the record is there; the
// test fails if it is not after 10 seconds.
func findDecision(t *testing.T, path, namespace, name, outcome string) *decision {
	t.Helper()
	var d *decision
	poll(t, fmt.Sprintf("the %s decision for %s/%s in the decision log", outcome, namespace, name), 10*time.Second, nil, func() (bool, error) {
		d = readDecision(t, path, namespace, name, outcome)
		return d != nil, nil
	})
	return d
}

func readDecision(t *testing.T, path, namespace, name, outcome string) *decision {
	t.Helper()
	var found *decision
	// A batch may end mid-line while it is being written: only whole lines.
	for line := range wholeLines(t, path) {
		var d decision
		if err := json.Unmarshal(line, &d); err != nil {
			t.Fatalf("decision log line %q: %v", line, err)
		}
		if d.Msg == "admission decision" && d.Namespace == namespace && d.Name == name && d.Decision == outcome {
			found = &d
		}
	}
	return found
}

// wholeLines reads the file at path and yields its lines that end with a
// newline (newline included), leaving out one still being written.
func wholeLines(t *testing.T, path string) iter.Seq[[]byte] {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Lines(data[:bytes.LastIndexByte(data, '\n')+1])
}

// ---- binaries ----

type binaries struct{ etcd, apiserver, attest string }

// repoRoot is the main module's directory, two levels up.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil || !bytes.HasPrefix(gomod, []byte("module github.com/continuums/attest\n")) {
		t.Fatalf("%s is not attest's repository (go.mod: %v)", root, err)
	}
	return root
}

// buildBinaries runs `go build` for the three binaries into ROOT/.bin. It is
// quick when they are up to date; the first kube-apiserver build takes
// minutes and gigabytes (docs/testing.md). attest is always rebuilt from
// the working tree, so the test judges the code as it is.
func buildBinaries(t *testing.T, root string) binaries {
	t.Helper()
	dir := filepath.Join(root, ".bin")
	b := binaries{
		etcd:      filepath.Join(dir, "etcd"),
		apiserver: filepath.Join(dir, "kube-apiserver"),
		attest:    filepath.Join(dir, "attest"),
	}
	kubeDir := filepath.Join(root, "test", "kube")
	for _, s := range []struct {
		out, dir string
		args     []string
	}{
		{b.attest, root, []string{"./cmd/attest"}},
		{b.etcd, kubeDir, []string{"./cmd/etcd"}},
		{b.apiserver, kubeDir, []string{"-ldflags", kubeVersionLDFlags, "./cmd/kube-apiserver"}},
	} {
		_, statErr := os.Stat(s.out)
		if statErr != nil {
			t.Logf("building %s (not built yet; kube-apiserver takes several minutes the first time)", s.out)
		}
		start := time.Now()
		// -mod=readonly on the command line beats a GOFLAGS=-mod=mod (as
		// .ci/run sets): building must never rewrite a go.mod, least of all
		// the main module's.
		args := append([]string{"build", "-mod=readonly", "-o", s.out}, s.args...)
		cmd := exec.Command("go", args...)
		cmd.Dir = s.dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s (in %s): %v\n%s", strings.Join(args, " "), s.dir, err, out)
		}
		t.Logf("go build %s: %s", filepath.Base(s.out), time.Since(start).Round(100*time.Millisecond))
	}
	return b
}

// ---- processes ----

// process is a child started by the test, killed by PID when the test ends.
type process struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{} // closed when it has exited
	err  error         // its exit status, once done
}

func start(t *testing.T, name, logDir string, env []string, bin string, args ...string) *process {
	t.Helper()
	logPath := filepath.Join(logDir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = env // nil: the test's environment
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("starting %s: %v", name, err)
	}
	p := &process{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	t.Logf("started %s (pid %d), log %s", name, cmd.Process.Pid, logPath)
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("last lines of %s's log:\n%s", name, tail(logPath, 40))
		}
	})
	return p
}

// kill ends the process (by its PID) and waits for it.
func (p *process) kill() {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func tail(path string, n int) string {
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// poll calls f every 100ms until it reports done, failing the test after
// timeout (with f's last error) or as soon as one of procs exits.
func poll(t *testing.T, what string, timeout time.Duration, procs []*process, f func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := f()
		if ok {
			return
		}
		for _, p := range procs {
			if p.exited() {
				t.Fatalf("waiting for %s: %s exited (%v); its log:\n%s", what, p.name, p.err, tail(p.log, 40))
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: not after %s (last: %v)", what, timeout, err)
		}
		<-tick.C
	}
}

// freePorts finds n distinct free ports on 127.0.0.1 (held open together so
// they differ, then released for the child processes).
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ls []net.Listener
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

func httpGetBody(client *http.Client, url, token string) (int, string, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return resp.StatusCode, string(body), err
}

// ---- etcd ----

func startEtcd(t *testing.T, bin, tmp string) string {
	t.Helper()
	ports := freePorts(t, 2)
	clientURL := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	p := start(t, "etcd", tmp, nil, bin,
		"--data-dir", filepath.Join(tmp, "etcd"),
		"--listen-client-urls", clientURL,
		"--listen-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", ports[1]))
	hc := &http.Client{Timeout: 2 * time.Second}
	poll(t, "etcd's /health", time.Minute, []*process{p}, func() (bool, error) {
		code, body, err := httpGetBody(hc, clientURL+"/health", "")
		if err != nil {
			return false, err
		}
		return code == http.StatusOK && strings.Contains(body, `"health":"true"`), fmt.Errorf("%d %s", code, body)
	})
	return clientURL
}

// ---- kube-apiserver ----

type apiServer struct {
	config      *rest.Config // adminUser's
	attestToken string       // attestUser's
}

// adminUser is the cluster admin the test talks to the API server as.
const adminUser = "e2e-admin"

// attestUser is the ServiceAccount attest runs as in deploy/
// (attest-system/attest), as the API server names it.
const attestUser = "system:serviceaccount:attest-system:attest"

// writeKubeconfig gives attest serve the API server, as attestUser.
func writeKubeconfig(t *testing.T, kube *apiServer, tmp string) string {
	t.Helper()
	path := filepath.Join(tmp, "attest.kubeconfig")
	writeFile(t, path, []byte(`apiVersion: v1
kind: Config
clusters:
  - name: e2e
    cluster:
      server: `+kube.config.Host+`
      certificate-authority: `+kube.config.TLSClientConfig.CAFile+`
users:
  - name: attest
    user:
      token: `+kube.attestToken+`
contexts:
  - name: e2e
    context: {cluster: e2e, user: attest}
current-context: e2e
`))
	return path
}

func startAPIServer(t *testing.T, bin, etcdURL, tmp string) *apiServer {
	t.Helper()
	dir := filepath.Join(tmp, "apiserver")
	certDir := filepath.Join(dir, "certs")
	if err := os.MkdirAll(certDir, 0o700); err != nil {
		t.Fatal(err)
	}
	// A static token for a cluster admin.
	token := rand.Text()
	// And one for attest serve, as the ServiceAccount of deploy/ would
	// authenticate (RBAC matches a ServiceAccount subject by this name);
	// no permissions until the test grants them.
	attestToken := rand.Text()
	tokens := filepath.Join(dir, "tokens.csv")
	writeFile(t, tokens, []byte(token+","+adminUser+",e2e-admin-uid,\"system:masters\"\n"+
		attestToken+","+attestUser+",e2e-attest-uid,\"system:serviceaccounts,system:serviceaccounts:attest-system\"\n"))
	// The ServiceAccount token signing key.
	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	saKeyFile := filepath.Join(dir, "sa.key")
	writeFile(t, saKeyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(saKey)}))

	port := freePorts(t, 1)[0]
	p := start(t, "kube-apiserver", tmp, nil, bin,
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(port),
		"--cert-dir="+certDir,
		"--token-auth-file="+tokens,
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+saKeyFile,
		"--service-account-signing-key-file="+saKeyFile,
		"--service-cluster-ip-range=10.0.0.0/24",
		// With a loopback advertise address the default (lease)
		// reconciler makes the API server exit at once.
		"--endpoint-reconciler-type=none",
		// Privileged pods pass the API server's own validation, so that
		// attest is the one that refuses them.
		"--allow-privileged=true",
	)
	host := fmt.Sprintf("https://127.0.0.1:%d", port)
	// The API server writes its self-signed serving certificate into
	// --cert-dir as it starts; trust that.
	caFile := filepath.Join(certDir, "apiserver.crt")
	var hc *http.Client
	poll(t, "kube-apiserver's /readyz", 2*time.Minute, []*process{p}, func() (bool, error) {
		if hc == nil {
			pemData, err := os.ReadFile(caFile)
			if err != nil {
				return false, err
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pemData) {
				return false, fmt.Errorf("%s: no certificate yet", caFile)
			}
			hc = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
		}
		code, body, err := httpGetBody(hc, host+"/readyz", token)
		if err != nil {
			return false, err
		}
		return code == http.StatusOK && body == "ok", fmt.Errorf("%d %s", code, body)
	})
	return &apiServer{
		attestToken: attestToken,
		config: &rest.Config{
			Host:            host,
			BearerToken:     token,
			TLSClientConfig: rest.TLSClientConfig{CAFile: caFile},
			QPS:             100,
			Burst:           200,
			Timeout:         30 * time.Second,
		},
	}
}

// ---- attest ----

// pkiFiles is a generated CA and attest's serving certificate and key.
type pkiFiles struct {
	caPEM             []byte
	certFile, keyFile string
	pool              *x509.CertPool
}

// newPKI makes a CA and, signed by it, a serving certificate for 127.0.0.1
// (an IP SAN: kube-apiserver checks it against the webhook URL's host).
func newPKI(t *testing.T, tmp string) *pkiFiles {
	t.Helper()
	now := time.Now()
	ca, caKey := newCert(t, &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "attest e2e CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}, nil, nil)
	cert, key := newCert(t, &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "attest.attest-system.svc"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca, caKey)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(tmp, "pki")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	out := &pkiFiles{
		caPEM:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw}),
		certFile: filepath.Join(dir, "tls.crt"),
		keyFile:  filepath.Join(dir, "tls.key"),
		pool:     x509.NewCertPool(),
	}
	out.pool.AddCert(ca)
	writeFile(t, out.certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))
	writeFile(t, out.keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	return out
}

// newCert makes a P-256 key and the certificate tmpl for it, signed by
// parent and parentKey, or self-signed when parent is nil.
func newCert(t *testing.T, tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// writeProject makes the project attest serves: the built-in library, with
// resource-limits in warn mode and annotation exemptions honoured, and a
// Gatekeeper constraint that refuses every Pod in the e2e-gk-* namespaces
// whose Namespace is labelled e2e-gatekeeper: enforce.
func writeProject(t *testing.T, tmp string) string {
	t.Helper()
	dir := filepath.Join(tmp, "project")
	writeFile(t, filepath.Join(dir, "policies", "gatekeeper.yaml"), []byte(`apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8se2edenypods
spec:
  crd:
    spec:
      names:
        kind: K8sE2EDenyPods
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8se2edenypods
        violation[{"msg": msg}] {
          msg := sprintf("no pods in %v: its Namespace is labelled e2e-gatekeeper=enforce", [input.review.namespace])
        }
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sE2EDenyPods
metadata:
  name: enforced-namespaces
spec:
  match:
    kinds: [{apiGroups: [""], kinds: [Pod]}]
    namespaces: ["e2e-gk-*"]
    namespaceSelector:
      matchLabels: {e2e-gatekeeper: enforce}
`))
	writeFile(t, filepath.Join(dir, ".attest", "policies.yaml"), []byte(`policies:
  - name: "resource-limits"
    enabled: true
    enforcement: "warn"
exemptions:
  annotations: honour
`))
	return dir
}

type attestServer struct {
	proc        *process
	addr        string
	decisionLog string
	client      *http.Client
}

// startAttest runs attest serve and waits until its policies are loaded:
// /readyz says so, or that the cluster's Namespaces are not read yet
// (attest's user may not read them yet).
func startAttest(t *testing.T, bin string, p *pkiFiles, project, kubeconfig, tmp string) *attestServer {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", freePorts(t, 1)[0])
	home := filepath.Join(tmp, "home")
	// Nothing from this machine's user configuration, store or ATTEST_*
	// environment: only the test project.
	env := []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"XDG_DATA_HOME=" + filepath.Join(home, ".local", "share"), "XDG_CACHE_HOME=" + filepath.Join(home, ".cache")}
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k == "PATH" || k == "TMPDIR" {
			env = append(env, kv)
		}
	}
	decisionLog := filepath.Join(tmp, "decisions.log")
	proc := start(t, "attest", tmp, env, bin, "serve",
		"--addr", addr,
		"--tls-cert", p.certFile,
		"--tls-key", p.keyFile,
		"--project", project,
		"--decision-log", decisionLog,
		"--kubeconfig", kubeconfig,
		// The debug log says when a Namespace is read from the API
		// server because the cache does not have it.
		"--log-level", "debug",
	)
	at := &attestServer{proc: proc, addr: addr, decisionLog: decisionLog,
		client: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.pool}}}}
	poll(t, "attest's policies to load", time.Minute, []*process{proc}, func() (bool, error) {
		code, body, err := at.readyz()
		if err != nil {
			return false, err
		}
		return code == http.StatusOK || strings.Contains(body, namespacesNotRead), fmt.Errorf("%d %s", code, body)
	})
	return at
}

// namespacesNotRead is attest's /readyz body (503) while its cache of the
// cluster's Namespaces has not synced.
const namespacesNotRead = "the cluster's Namespaces not read yet"

func (at *attestServer) readyz() (int, string, error) {
	return httpGetBody(at.client, "https://"+at.addr+"/readyz", "")
}

// waitForDenial calls create (a dry run) until it is refused with an
// error that contains msg, failing the test after 30 seconds or if attest
// exits.
func (at *attestServer) waitForDenial(t *testing.T, what, msg string, create func() error) {
	t.Helper()
	poll(t, what, 30*time.Second, []*process{at.proc}, func() (bool, error) {
		err := create()
		if err == nil {
			return false, errors.New("admitted (dry run)")
		}
		return strings.Contains(err.Error(), msg), err
	})
}

// ---- small helpers ----

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func jsonString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

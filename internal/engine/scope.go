package engine

import "strings"

// clusterScoped lists the built-in kinds that live outside namespaces,
// by group (without version). A manifest without a namespace is not
// enough to tell: most namespaced objects omit it and get the default.
var clusterScoped = map[string]map[string]bool{
	"":                             {"Namespace": true, "Node": true, "PersistentVolume": true, "ComponentStatus": true},
	"rbac.authorization.k8s.io":    {"ClusterRole": true, "ClusterRoleBinding": true},
	"storage.k8s.io":               {"StorageClass": true, "CSIDriver": true, "CSINode": true, "VolumeAttachment": true},
	"apiextensions.k8s.io":         {"CustomResourceDefinition": true},
	"admissionregistration.k8s.io": {"ValidatingWebhookConfiguration": true, "MutatingWebhookConfiguration": true, "ValidatingAdmissionPolicy": true, "ValidatingAdmissionPolicyBinding": true, "MutatingAdmissionPolicy": true, "MutatingAdmissionPolicyBinding": true},
	"apiregistration.k8s.io":       {"APIService": true},
	"scheduling.k8s.io":            {"PriorityClass": true},
	"node.k8s.io":                  {"RuntimeClass": true},
	"networking.k8s.io":            {"IngressClass": true, "IPAddress": true, "ServiceCIDR": true},
	"certificates.k8s.io":          {"CertificateSigningRequest": true, "ClusterTrustBundle": true},
	"flowcontrol.apiserver.k8s.io": {"FlowSchema": true, "PriorityLevelConfiguration": true},
	"policy":                       {"PodSecurityPolicy": true},
	"resource.k8s.io":              {"DeviceClass": true, "ResourceSlice": true},
	"templates.gatekeeper.sh":      {"ConstraintTemplate": true},
}

// ClusterScoped reports whether a built-in kind is cluster-scoped.
func ClusterScoped(apiVersion, kind string) bool {
	group := ""
	if i := strings.LastIndexByte(apiVersion, '/'); i >= 0 {
		group = apiVersion[:i]
	}
	return clusterScoped[group][kind]
}

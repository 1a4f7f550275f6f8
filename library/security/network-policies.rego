package attest.security

import data.attest.lib

# Network exposure that can be judged from one object: Services, Ingresses
# and NetworkPolicies.

# METADATA
# title: Avoid NodePort Services
# description: >-
#   A NodePort Service opens the port on every node of the cluster, around
#   the load balancer and often around firewalls meant for it.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/services-networking/service/
# custom:
#   id: service-node-port
#   severity: medium
#   remediation: Use a ClusterIP Service behind an Ingress or a LoadBalancer Service.
#   kinds: [Service]
#   controls: ["CIS:5.3.2", "SOC2:CC6.6", "NIST-800-190:4.3.3"]
violation contains {"violated": true, "message": msg, "severity": "medium", "details": {"field": "spec.type"}} if {
	input.resource.kind == "Service"
	input.resource.spec.type == "NodePort"
	msg := sprintf("Service %v is of type NodePort: it opens a port on every node", [input.resource.metadata.name])
}

internal_lb_annotations := {
	"service.beta.kubernetes.io/aws-load-balancer-internal",
	"service.beta.kubernetes.io/azure-load-balancer-internal",
	"networking.gke.io/load-balancer-type",
	"cloud.google.com/load-balancer-type",
	"service.beta.kubernetes.io/oci-load-balancer-internal",
	"service.beta.kubernetes.io/openstack-internal-load-balancer",
}

internal_load_balancer if {
	some k, v in lib.annotations
	k in internal_lb_annotations
	lower(v) in {"true", "internal", "0.0.0.0/0"}
}

internal_load_balancer if lib.annotations["service.beta.kubernetes.io/aws-load-balancer-scheme"] == "internal"

# METADATA
# title: LoadBalancer Services should restrict their sources
# description: >-
#   An external LoadBalancer Service without loadBalancerSourceRanges is
#   reachable from the whole Internet. Internal load balancers (cloud
#   annotations) are not reported.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/services-networking/service/
# custom:
#   id: service-load-balancer-open
#   severity: medium
#   remediation: >-
#     Set spec.loadBalancerSourceRanges to the networks that need access, or
#     make the load balancer internal, or publish through an Ingress with TLS.
#   kinds: [Service]
#   controls: ["SOC2:CC6.6", "NIST-800-190:4.3.3"]
violation contains {"violated": true, "message": msg, "severity": "medium", "details": {"field": "spec.type"}} if {
	input.resource.kind == "Service"
	input.resource.spec.type == "LoadBalancer"
	count(object.get(input.resource.spec, "loadBalancerSourceRanges", [])) == 0
	not internal_load_balancer
	msg := sprintf("Service %v is an Internet-facing load balancer with no loadBalancerSourceRanges", [input.resource.metadata.name])
}

# METADATA
# title: No externalIPs on Services
# description: >-
#   spec.externalIPs lets whoever can create a Service intercept traffic to
#   any IP address in the cluster (CVE-2020-8554).
# related_resources:
#   - ref: https://github.com/kubernetes/kubernetes/issues/97076
# custom:
#   id: service-external-ips
#   severity: high
#   remediation: Remove spec.externalIPs; use a LoadBalancer Service or an Ingress.
#   kinds: [Service]
#   controls: ["SOC2:CC6.6", "CVE:CVE-2020-8554"]
violation contains {"violated": true, "message": msg, "severity": "high", "details": {"field": "spec.externalIPs"}} if {
	input.resource.kind == "Service"
	count(input.resource.spec.externalIPs) > 0
	msg := sprintf("Service %v sets externalIPs %v", [input.resource.metadata.name, concat(", ", input.resource.spec.externalIPs)])
}

# METADATA
# title: Ingresses must terminate TLS
# description: >-
#   An Ingress without spec.tls serves plain HTTP; credentials and personal
#   data cross the network in clear text.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/services-networking/ingress/#tls
# custom:
#   id: ingress-tls
#   severity: medium
#   remediation: Add spec.tls with the hosts and a certificate Secret (cert-manager can issue it).
#   kinds: [Ingress]
#   controls: ["SOC2:CC6.7", "HIPAA:164.312(e)(1)", "GDPR:Art.32", "PCI-DSS:4.1"]
violation contains {"violated": true, "message": msg, "severity": "medium", "details": d} if {
	input.resource.kind == "Ingress"
	count(object.get(input.resource, ["spec", "tls"], [])) == 0
	msg := sprintf("Ingress %v has no TLS section: traffic is served over plain HTTP", [input.resource.metadata.name])
	d := {"field": lib.deepest("", input.resource, ["spec", "tls"])}
}

tls_hosts contains h if {
	some t in input.resource.spec.tls
	some h in t.hosts
}

covered(host) if host in tls_hosts

covered(host) if {
	some h in tls_hosts
	startswith(h, "*.")
	suffix := substring(h, 1, -1)
	endswith(host, suffix)
	not contains(trim_suffix(host, suffix), ".")
}

# METADATA
# title: Every Ingress host must be covered by TLS
# description: >-
#   An Ingress with a TLS section serves the hosts its tls entries do not
#   list over plain HTTP (wildcards count).
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/services-networking/ingress/#tls
# custom:
#   id: ingress-tls-hosts
#   severity: medium
#   remediation: Add the host to spec.tls[].hosts with a certificate that covers it.
#   kinds: [Ingress]
#   controls: ["SOC2:CC6.7", "HIPAA:164.312(e)(1)", "GDPR:Art.32"]
violation contains {"violated": true, "message": msg, "severity": "medium", "details": d} if {
	input.resource.kind == "Ingress"
	count(tls_hosts) > 0
	some i, rule in input.resource.spec.rules
	host := rule.host
	not covered(host)
	msg := sprintf("Ingress %v serves host %v without TLS", [input.resource.metadata.name, host])
	d := {"field": sprintf("spec.rules[%d].host", [i])}
}

# METADATA
# title: NetworkPolicies should not allow all traffic
# description: >-
#   A NetworkPolicy ingress rule with no from (or an egress rule with no to)
#   and no ports allows every peer, which usually undoes the isolation the
#   policy was written for.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/services-networking/network-policies/
# custom:
#   id: network-policy-allow-all
#   severity: medium
#   remediation: List the allowed peers (podSelector, namespaceSelector, ipBlock) and ports in the rule.
#   kinds: [NetworkPolicy]
#   controls: ["CIS:5.3.2", "SOC2:CC6.6", "HIPAA:164.312(e)(1)"]
violation contains {"violated": true, "message": msg, "severity": "medium", "details": d} if {
	input.resource.kind == "NetworkPolicy"
	some [direction, peers] in [["ingress", "from"], ["egress", "to"]]
	some i, rule in input.resource.spec[direction]
	count(object.get(rule, peers, [])) == 0
	count(object.get(rule, "ports", [])) == 0
	msg := sprintf("NetworkPolicy %v allows all %v traffic (%v rule %d has no %v and no ports)", [input.resource.metadata.name, direction, direction, i, peers])
	d := {"field": sprintf("spec.%s[%d]", [direction, i])}
}

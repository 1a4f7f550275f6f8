# Network exposure rules of package company.security, in Rego v1.
package company.security

# Hosts an Ingress may serve; the company-security entry of
# .attest/policies.yaml can override them with parameters.ingress_domains.
ingress_domains := object.get(input, ["parameters", "ingress_domains"], ["company.com"])

under_company_domain(host) if {
	some d in ingress_domains
	endswith(host, concat("", [".", d]))
}

# METADATA
# title: No NodePort services
# description: >-
#   A NodePort opens the port on every node of the cluster, bypassing the
#   ingress controller, its TLS and its WAF.
# custom:
#   id: no-nodeport
#   severity: medium
#   remediation: Use type ClusterIP behind the Ingress, or a LoadBalancer with an allow-list.
#   kinds: [Service]
#   controls: ["SOC2:CC6.6"]
violation contains {"violated": true, "message": msg, "severity": "medium", "details": {"field": "spec.type"}} if {
	input.resource.kind == "Service"
	input.resource.spec.type == "NodePort"
	msg := sprintf("Service '%v' is a NodePort; expose it through the Ingress instead", [input.resource.metadata.name])
}

# METADATA
# title: Ingress hosts are under the company domain
# description: >-
#   Certificates, DNS and the WAF are managed for *.company.com only.
# custom:
#   id: ingress-company-domain
#   severity: high
#   remediation: Serve the app as <app>.company.com (or <app>.staging.company.com).
#   kinds: [Ingress]
#   controls: ["SOC2:CC6.6"]
violation contains {"violated": true, "message": msg, "severity": "high", "details": {"field": field}} if {
	input.resource.kind == "Ingress"
	some i, rule in input.resource.spec.rules
	not under_company_domain(rule.host)
	field := sprintf("spec.rules[%d].host", [i])
	msg := sprintf("Ingress host '%v' is not under %v", [rule.host, concat(" or ", ingress_domains)])
}

# METADATA
# title: Ingresses terminate TLS
# custom:
#   id: ingress-tls
#   severity: high
#   remediation: Add spec.tls with the hosts and a certificate secret (cert-manager issues them).
#   kinds: [Ingress]
#   controls: ["SOC2:CC6.7", "HIPAA:164.312(e)(1)"]
violation contains {"violated": true, "message": msg, "severity": "high"} if {
	input.resource.kind == "Ingress"
	count(object.get(input.resource.spec, "tls", [])) == 0
	msg := sprintf("Ingress '%v' has no TLS section", [input.resource.metadata.name])
}

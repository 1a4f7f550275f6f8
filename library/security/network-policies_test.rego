package attest.security_test

import data.attest.fixtures as f

service(spec, annotations) := {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "annotations": annotations}, "spec": spec}

ingress(spec) := {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "i"}, "spec": spec}

netpol(spec) := {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "n"}, "spec": spec}

rule(host) := {"host": host, "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "s", "port": {"number": 80}}}}]}}

network_cases := [
	{"note": "ClusterIP is fine", "resource": service({"type": "ClusterIP", "ports": [{"port": 80}]}, {}), "want": set()},
	{
		"note": "NodePort",
		"resource": service({"type": "NodePort"}, {}),
		"want": {["Service s is of type NodePort: it opens a port on every node", "spec.type"]},
	},
	{
		"note": "open LoadBalancer",
		"resource": service({"type": "LoadBalancer"}, {}),
		"want": {["Service s is an Internet-facing load balancer with no loadBalancerSourceRanges", "spec.type"]},
	},
	{"note": "LoadBalancer with source ranges", "resource": service({"type": "LoadBalancer", "loadBalancerSourceRanges": ["10.0.0.0/8"]}, {}), "want": set()},
	{"note": "internal LoadBalancer", "resource": service({"type": "LoadBalancer"}, {"networking.gke.io/load-balancer-type": "Internal"}), "want": set()},
	{
		"note": "externalIPs",
		"resource": service({"externalIPs": ["1.2.3.4"]}, {}),
		"want": {["Service s sets externalIPs 1.2.3.4", "spec.externalIPs"]},
	},
	{
		"note": "ingress without TLS",
		"resource": ingress({"rules": [rule("a.example.com")]}),
		"want": {["Ingress i has no TLS section: traffic is served over plain HTTP", "spec"]},
	},
	{"note": "ingress with TLS", "resource": ingress({"tls": [{"hosts": ["a.example.com"], "secretName": "t"}], "rules": [rule("a.example.com")]}), "want": set()},
	{"note": "ingress wildcard TLS", "resource": ingress({"tls": [{"hosts": ["*.example.com"]}], "rules": [rule("a.example.com")]}), "want": set()},
	{
		"note": "ingress host not covered",
		"resource": ingress({"tls": [{"hosts": ["*.example.com"]}], "rules": [rule("a.example.com"), rule("a.b.example.com"), rule("other.org")]}),
		"want": {
			["Ingress i serves host a.b.example.com without TLS", "spec.rules[1].host"],
			["Ingress i serves host other.org without TLS", "spec.rules[2].host"],
		},
	},
	{"note": "deny-all policy", "resource": netpol({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}), "want": set()},
	{
		"note": "allow-all ingress and egress",
		"resource": netpol({"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}, {}], "egress": [{}]}),
		"want": {
			["NetworkPolicy n allows all ingress traffic (ingress rule 1 has no from and no ports)", "spec.ingress[1]"],
			["NetworkPolicy n allows all egress traffic (egress rule 0 has no to and no ports)", "spec.egress[0]"],
		},
	},
	{"note": "ports only is a restriction", "resource": netpol({"podSelector": {}, "ingress": [{"ports": [{"port": 53}]}]}), "want": set()},
]

test_network[note] if {
	some c in network_cases
	note := c.note
	{[v.message, object.get(v, ["details", "field"], "")] | some v in results(f.input_for(c.resource))} == c.want
}

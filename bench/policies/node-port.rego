package main

# METADATA
# title: NodePort service
# custom:
#   id: node-port
#   severity: low
warn contains msg if {
	input.kind == "Service"
	input.spec.type == "NodePort"
	msg := sprintf("%s: NodePort services expose every node; use a LoadBalancer or an Ingress", [obj])
}

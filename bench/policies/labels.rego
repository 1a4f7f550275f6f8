package main

required_labels := ["app.kubernetes.io/name", "team"]

# METADATA
# title: Missing required label
# custom:
#   id: required-labels
#   severity: medium
deny contains msg if {
	some label in required_labels
	not input.metadata.labels[label]
	msg := sprintf("%s: missing required label %q", [obj, label])
}

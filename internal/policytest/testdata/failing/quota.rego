package attest.quota

import rego.v1

max_replicas := 10

too_many if input.spec.replicas > max_replicas

mode := "strict" if input.strict
mode := "lenient" if input.lenient

# The whole test suite: the main module, then the Gatekeeper framework
# cross-check, which is its own module (see internal/gatekeeper/frameworkstest),
# then the webhook's end-to-end test against a real kube-apiserver, also its
# own module (test/kube; docs/testing.md). Its first run builds kube-apiserver
# into .bin/ (about 6.5 minutes on 2 cores): hence the timeout, and -v on the
# one package that has tests so that go test streams what it is doing.
.PHONY: test
test:
	go test ./...
	cd internal/gatekeeper/frameworkstest && go test ./...
	cd test/kube && go test -v -timeout 30m .

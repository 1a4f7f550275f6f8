# The image deploy/ runs: one static binary on distroless, as user and
# group 65532 (deploy/deployment.yaml's runAsUser and runAsGroup).
# deploy/image_test.go runs this file's own `go build` line and checks that
# the binary is static and starts, and that USER matches the Deployment.
#
#   docker build --build-arg VERSION=$(git describe --tags) -t registry.company.com/attest:0.1.0 .
# The Go of go.mod exactly: the official image builds with GOTOOLCHAIN=local.
# Pin both images by digest in your registry mirror.
FROM golang:1.26.8 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -X github.com/continuums/attest/internal/cli.Version=${VERSION}" -o /out/attest ./cmd/attest

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/attest /attest
USER 65532:65532
ENTRYPOINT ["/attest"]

# syntax=docker/dockerfile:1.7
#
# cognito-mfa-operator container image.
#
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     --build-arg VERSION=0.1.0 --build-arg REVISION=$(git rev-parse HEAD) \
#     -t ghcr.io/cognito-mfa-operator/cognito-mfa-operator:0.1.0 --push .
#
# The builder always runs on the build machine's own platform (BUILDPLATFORM) and cross-compiles
# a static musl binary for each TARGETPLATFORM with tonistiigi/xx (clang + the target's musl), so
# an arm64 image needs no emulation. The final image is distroless "static" (CA certificates,
# tzdata, /etc/passwd with the nonroot user 65532, no shell) holding only the binary.

ARG RUST_VERSION=1.95
ARG XX_VERSION=1.6.1

FROM --platform=$BUILDPLATFORM tonistiigi/xx:${XX_VERSION} AS xx

FROM --platform=$BUILDPLATFORM rust:${RUST_VERSION}-alpine AS builder
# xx's helper scripts (xx-cargo, xx-apk, xx-verify, ...) are meant to be copied in whole.
# hadolint ignore=DL3067
COPY --from=xx / /
# Build-platform tools: clang/lld for cross-linking, cmake/perl/make for the C code of
# aws-lc-sys (rustls' crypto), file for xx-verify. Versions follow the Alpine release of the
# rust image (pinning apk versions breaks the build whenever Alpine updates a package).
# hadolint ignore=DL3018
RUN apk add --no-cache clang lld cmake make perl file
ARG TARGETPLATFORM
# Target-platform C runtime (musl headers and libgcc) for linking.
# hadolint ignore=DL3018
RUN xx-apk add --no-cache musl-dev gcc
# xx-cargo would add the target on first use; do it here so the layer is cached.
RUN rustup target add "$(xx-cargo --print-target-triple)"
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/src/target,id=cognito-mfa-operator-target-${TARGETPLATFORM},sharing=locked \
    set -eux; \
    triple="$(xx-cargo --print-target-triple)"; \
    xx-cargo build --release --locked --bin cognito-mfa-operator; \
    xx-verify --static "target/${triple}/release/cognito-mfa-operator"; \
    cp "target/${triple}/release/cognito-mfa-operator" /cognito-mfa-operator

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=1970-01-01T00:00:00Z
LABEL org.opencontainers.image.title="cognito-mfa-operator" \
      org.opencontainers.image.description="Kubernetes operator that keeps Amazon Cognito user pool MFA configuration equal to UserPoolMfaConfig resources" \
      org.opencontainers.image.url="https://github.com/cognito-mfa-operator/cognito-mfa-operator" \
      org.opencontainers.image.source="https://github.com/cognito-mfa-operator/cognito-mfa-operator" \
      org.opencontainers.image.documentation="https://github.com/cognito-mfa-operator/cognito-mfa-operator#readme" \
      org.opencontainers.image.vendor="cognito-mfa-operator" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="gcr.io/distroless/static-debian12:nonroot"
COPY --from=builder --chown=0:0 --chmod=0555 /cognito-mfa-operator /cognito-mfa-operator
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/cognito-mfa-operator"]
CMD ["run"]

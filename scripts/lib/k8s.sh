# Versions of what the Kubernetes manifests are checked against and deployed with,
# shared by scripts/minikube and scripts/lib/k8s-tools.sh. Sourced, not executed.
# shellcheck shell=bash

# The manifests are validated against the API schemas of both ends of this range:
# kubectl on the test machines is 1.32; Minikube installs a recent release.
K8S_SCHEMA_VERSIONS="1.32 1.37"
# The validator, built from the Go module proxy.
KUBECONFORM_VERSION=v0.8.0
# Ships the strict JSON schemas of every Kubernetes release (PyPI).
KUBERNETES_VALIDATE_VERSION=1.37.0
# KEDA: its CRDs (from its Go module) validate the ScaledObject; scripts/minikube installs
# this release.
KEDA_VERSION=2.21.0
# Gateway API: its CRDs validate the HTTPRoute alternative to the Ingress.
GATEWAY_API_VERSION=1.6.3

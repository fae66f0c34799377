"""Deployment targets: where a released image runs (a Kubernetes Deployment, a local process)."""

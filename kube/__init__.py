"""Kubernetes path of the lab: load, render and statically diagnose the app/k8s manifests."""

"""Smoke tests of the local control plane (real etcd, kube-apiserver, KCM, scheduler, KWOK)."""

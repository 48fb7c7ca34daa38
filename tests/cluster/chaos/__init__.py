"""Chaos on the real control plane: the operator SIGKILLed in every phase, kube-apiserver and etcd stopped and
restarted mid-release; every release must end in the right phase without ever routing traffic to an unready
canary or leaving the primary at zero replicas (see docs/reliability.md)."""

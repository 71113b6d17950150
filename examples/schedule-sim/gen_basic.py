#!/usr/bin/env python3
"""Writes a SchedulingBasic-like scenario (as scheduler_perf's): NODES nodes
(4 CPU, 32 GiB, 110 pods, zone labels), RUNNING pods already placed, then
PENDING pods to schedule (100m CPU, 500 MiB each).

    python3 examples/schedule-sim/gen_basic.py 5000 1000 10000 > /tmp/basic-5000.json
    cargo run --release --example schedule-sim -- /tmp/basic-5000.json --output summary
"""
import json
import sys

nodes_n, running_n, pending_n = (int(a) for a in (sys.argv[1:4] if len(sys.argv) > 3 else (5000, 1000, 10000)))
nodes = [
    {
        "metadata": {"name": f"node-{i}", "labels": {"kubernetes.io/hostname": f"node-{i}", "topology.kubernetes.io/zone": f"zone-{i % 3}"}},
        "status": {"allocatable": {"cpu": "4", "memory": "32Gi", "pods": "110"}},
    }
    for i in range(nodes_n)
]


def pod(name, node=None):
    spec = {"containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.10",
                            "resources": {"requests": {"cpu": "100m", "memory": "500Mi"}}}]}
    if node is not None:
        spec["nodeName"] = node
    return {"metadata": {"name": name, "namespace": "default"}, "spec": spec}


pods = [pod(f"running-{i}", f"node-{i % nodes_n}") for i in range(running_n)]
pods += [pod(f"pod-{i}") for i in range(pending_n)]
json.dump({"nodes": nodes, "pods": pods}, sys.stdout)

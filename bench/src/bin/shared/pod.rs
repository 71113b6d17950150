//! The pod the informer benchmarks use (shared by `informer` and `podsize`).

/// A pod as a running cluster has it: two containers, probes, volumes,
/// tolerations, and a status with conditions and container statuses.
pub fn pod_json(i: usize) -> String {
    let node = i % 500;
    format!(
        concat!(
            r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"web-5d9c7b8f4-{i:06}","namespace":"ns-{ns}","#,
            r#""labels":{{"app":"web","pod-template-hash":"5d9c7b8f4","tier":"frontend","version":"v1.4.2"}},"#,
            r#""annotations":{{"prometheus.io/port":"9113","prometheus.io/scrape":"true"}},"#,
            r#""ownerReferences":[{{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-5d9c7b8f4","uid":"6f1c0a52-3b7e-4d0e-9a51-0c2f8f1e{ns:04}","controller":true,"blockOwnerDeletion":true}}]}},"#,
            r#""spec":{{"nodeName":"node-{node:03}","containers":[{{"name":"web","image":"nginx:1.25.3","#,
            r#""ports":[{{"name":"http","containerPort":80,"protocol":"TCP"}}],"#,
            r#""env":[{{"name":"MODE","value":"production"}},{{"name":"POD_NAME","valueFrom":{{"fieldRef":{{"fieldPath":"metadata.name"}}}}}}],"#,
            r#""resources":{{"limits":{{"cpu":"1","memory":"256Mi"}},"requests":{{"cpu":"250m","memory":"64Mi"}}}},"#,
            r#""volumeMounts":[{{"name":"config","readOnly":true,"mountPath":"/etc/web"}}],"#,
            r#""readinessProbe":{{"httpGet":{{"path":"/healthz","port":"http"}},"periodSeconds":10}}}},"#,
            r#"{{"name":"exporter","image":"nginx/nginx-prometheus-exporter:1.1.0","#,
            r#""args":["--nginx.scrape-uri=http://localhost/stub_status"],"#,
            r#""ports":[{{"name":"metrics","containerPort":9113,"protocol":"TCP"}}],"#,
            r#""resources":{{"requests":{{"cpu":"10m","memory":"16Mi"}}}}}}],"#,
            r#""volumes":[{{"name":"config","configMap":{{"name":"web-config"}}}}],"#,
            r#""serviceAccountName":"web","nodeSelector":{{"kubernetes.io/os":"linux"}},"#,
            r#""tolerations":[{{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}}]}},"#,
            r#""status":{{"phase":"Running","hostIP":"10.0.{nh}.{nl}","podIP":"10.244.{ph}.{pl}","#,
            r#""podIPs":[{{"ip":"10.244.{ph}.{pl}"}}],"startTime":"2026-11-20T10:00:00Z","qosClass":"Burstable","#,
            r#""conditions":[{{"type":"Initialized","status":"True","lastTransitionTime":"2026-11-20T10:00:00Z"}},"#,
            r#"{{"type":"Ready","status":"True","lastTransitionTime":"2026-11-20T10:00:05Z"}},"#,
            r#"{{"type":"ContainersReady","status":"True","lastTransitionTime":"2026-11-20T10:00:05Z"}},"#,
            r#"{{"type":"PodScheduled","status":"True","lastTransitionTime":"2026-11-20T10:00:00Z"}}],"#,
            r#""containerStatuses":[{{"name":"web","ready":true,"restartCount":0,"image":"nginx:1.25.3","imageID":"docker.io/library/nginx@sha256:4c0fdaa8b6341bfdeca5f18f7837462c80cff90527ee35ef185571e1c327beac","containerID":"containerd://{i:064}","started":true,"state":{{"running":{{"startedAt":"2026-11-20T10:00:02Z"}}}}}},"#,
            r#"{{"name":"exporter","ready":true,"restartCount":0,"image":"nginx/nginx-prometheus-exporter:1.1.0","imageID":"docker.io/nginx/nginx-prometheus-exporter@sha256:1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708","containerID":"containerd://{j:064}","started":true,"state":{{"running":{{"startedAt":"2026-11-20T10:00:03Z"}}}}}}]}}}}"#,
        ),
        i = i,
        j = i + 1_000_000,
        ns = i % 50,
        node = node,
        nh = node / 250,
        nl = node % 250,
        ph = i / 250 % 250,
        pl = i % 250,
    )
}

import json, sys, os, http.server, socketserver, itertools
OUT = sys.argv[2]
os.makedirs(OUT, exist_ok=True)
counter = itertools.count()
def res(name, kind, namespaced=True, verbs=("create","get","list","update","patch","delete"), sub=False):
    return {"name": name, "singularName": "" , "namespaced": namespaced, "kind": kind, "verbs": list(verbs)}
CORE = [res("namespaces","Namespace",False), res("configmaps","ConfigMap"), res("secrets","Secret"),
        res("services","Service"), res("serviceaccounts","ServiceAccount"), res("pods","Pod"),
        dict(res("pods/eviction","Eviction"), group="policy", version="v1"), res("pods/binding","Binding"), res("bindings","Binding"), res("resourcequotas","ResourceQuota"),
        res("serviceaccounts/token","TokenRequest"), res("nodes","Node",False), res("replicationcontrollers","ReplicationController"),
        res("replicationcontrollers/scale","Scale")]
GROUPS = {
 "apps": [res("deployments","Deployment"), res("deployments/scale","Scale"), res("replicasets","ReplicaSet"), res("statefulsets","StatefulSet"), res("statefulsets/scale","Scale"), res("daemonsets","DaemonSet")],
 "batch": [res("jobs","Job"), res("cronjobs","CronJob")],
 "rbac.authorization.k8s.io": [res("roles","Role"), res("clusterroles","ClusterRole",False), res("rolebindings","RoleBinding"), res("clusterrolebindings","ClusterRoleBinding",False)],
 "scheduling.k8s.io": [res("priorityclasses","PriorityClass",False)],
 "policy": [res("poddisruptionbudgets","PodDisruptionBudget")],
 "networking.k8s.io": [res("ingresses","Ingress"), res("ingressclasses","IngressClass",False)],
 "authentication.k8s.io": [res("tokenreviews","TokenReview",False)],
 "autoscaling": [res("horizontalpodautoscalers","HorizontalPodAutoscaler")],
}
class H(http.server.BaseHTTPRequestHandler):
    def send_json(self, code, obj):
        b = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type","application/json")
        self.send_header("Content-Length",str(len(b)))
        self.end_headers(); self.wfile.write(b)
    def log_message(self, fmt, *a):
        sys.stderr.write("%s %s\n" % (self.command, self.path))
    def do_GET(self):
        p = self.path.split("?")[0]
        if p == "/api":
            return self.send_json(200, {"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[{"clientCIDR":"0.0.0.0/0","serverAddress":"127.0.0.1"}]})
        if p == "/apis":
            gs = [{"name": g, "versions":[{"groupVersion": g+"/v1","version":"v1"}], "preferredVersion":{"groupVersion":g+"/v1","version":"v1"}} for g in GROUPS]
            return self.send_json(200, {"kind":"APIGroupList","apiVersion":"v1","groups":gs})
        if p == "/api/v1":
            return self.send_json(200, {"kind":"APIResourceList","groupVersion":"v1","resources":CORE})
        for g, rs in GROUPS.items():
            if p == "/apis/%s/v1" % g:
                return self.send_json(200, {"kind":"APIResourceList","apiVersion":"v1","groupVersion":g+"/v1","resources":rs})
        # object GETs (e.g. drain/expose need the object): serve files from OUT/get/<path>
        f = os.path.join(OUT, "get", p.strip("/").replace("/", "_") + ".json")
        if os.path.exists(f):
            return self.send_json(200, json.load(open(f)))
        return self.send_json(404, {"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404})
    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(n)
        i = next(counter)
        name = "%02d_%s_%s" % (i, self.command, self.path.split("?")[0].strip("/").replace("/", "_"))
        open(os.path.join(OUT, name + ".bin"), "wb").write(data)
        open(os.path.join(OUT, name + ".meta"), "w").write("%s %s\nContent-Type: %s\n" % (self.command, self.path, self.headers.get("Content-Type")))
        return data
    def do_POST(self):
        self.body()
        self.send_json(201, {"apiVersion":"v1","kind":"Status","status":"Success","metadata":{}} if False else {"metadata":{"name":"captured","namespace":"default"},"kind":"ConfigMap","apiVersion":"v1"})
    do_PUT = do_POST
    def do_PATCH(self):
        self.body(); self.send_json(200, {"metadata":{"name":"captured"},"kind":"ConfigMap","apiVersion":"v1"})
    def do_DELETE(self):
        self.body(); self.send_json(200, {"kind":"Status","apiVersion":"v1","status":"Success","metadata":{}})
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
S(("127.0.0.1", int(sys.argv[1])), H).serve_forever()

//! Messages of `networking.k8s.io/v1`.

use super::core::TYPED_LOCAL_OBJECT_REFERENCE;
use super::meta::OBJECT_META;

msg!(INGRESS, "Ingress" {
    1 "metadata" (M OBJECT_META) O,
    2 "spec" (M INGRESS_SPEC) O,
    3 "status" (M INGRESS_STATUS) O,
});

msg!(INGRESS_SPEC, "IngressSpec" {
    4 "ingressClassName" Str P,
    1 "defaultBackend" (M INGRESS_BACKEND) P,
    2 "tls" (M INGRESS_TLS) L,
    3 "rules" (M INGRESS_RULE) L,
});

msg!(INGRESS_TLS, "IngressTLS" {
    1 "hosts" Str L,
    2 "secretName" Str O,
});

msg!(INGRESS_STATUS, "IngressStatus" {
    1 "loadBalancer" (M INGRESS_LOAD_BALANCER_STATUS) O,
});

msg!(INGRESS_LOAD_BALANCER_STATUS, "IngressLoadBalancerStatus" {
    1 "ingress" (M INGRESS_LOAD_BALANCER_INGRESS) L,
});

msg!(INGRESS_LOAD_BALANCER_INGRESS, "IngressLoadBalancerIngress" {
    1 "ip" Str O,
    2 "hostname" Str O,
    4 "ports" (M INGRESS_PORT_STATUS) L,
});

msg!(INGRESS_PORT_STATUS, "IngressPortStatus" {
    1 "port" I32 R,
    2 "protocol" Str R,
    3 "error" Str P,
});

msg!(INGRESS_RULE, "IngressRule" {
    1 "host" Str O,
    2 "" (In INGRESS_RULE_VALUE) O,
});

msg!(INGRESS_RULE_VALUE, "IngressRuleValue" {
    1 "http" (M HTTP_INGRESS_RULE_VALUE) P,
});

msg!(HTTP_INGRESS_RULE_VALUE, "HTTPIngressRuleValue" {
    1 "paths" (M HTTP_INGRESS_PATH) Lr,
});

msg!(HTTP_INGRESS_PATH, "HTTPIngressPath" {
    1 "path" Str O,
    3 "pathType" Str Pn,
    2 "backend" (M INGRESS_BACKEND) R,
});

msg!(INGRESS_BACKEND, "IngressBackend" {
    4 "service" (M INGRESS_SERVICE_BACKEND) P,
    3 "resource" (M TYPED_LOCAL_OBJECT_REFERENCE) P,
});

msg!(INGRESS_SERVICE_BACKEND, "IngressServiceBackend" {
    1 "name" Str R,
    2 "port" (M SERVICE_BACKEND_PORT) O,
});

msg!(SERVICE_BACKEND_PORT, "ServiceBackendPort" {
    1 "name" Str O,
    2 "number" I32 O,
});

msg!(INGRESS_CLASS, "IngressClass" {
    1 "metadata" (M OBJECT_META) O,
    2 "spec" (M INGRESS_CLASS_SPEC) O,
});

msg!(INGRESS_CLASS_SPEC, "IngressClassSpec" {
    1 "controller" Str O,
    2 "parameters" (M INGRESS_CLASS_PARAMETERS_REFERENCE) P,
});

msg!(INGRESS_CLASS_PARAMETERS_REFERENCE, "IngressClassParametersReference" {
    1 "apiGroup" Str P,
    2 "kind" Str R,
    3 "name" Str R,
    4 "scope" Str Pn,
    5 "namespace" Str P,
});

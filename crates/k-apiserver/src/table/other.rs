//! Smaller kinds: leases, priority classes, pod disruption budgets, runtime
//! classes, admission webhook configurations, certificate signing requests and
//! API services.

use chrono::TimeDelta;

use super::duration::{age, human_duration};
use super::format::int_or_string;
use super::json::{at, bool_at, condition, int_at, len_at, list_at, name, opt_int, opt_str, str_at};
use super::{AGE, Column, NAME, Printer, cells};

pub(crate) const LEASE: Printer = Printer {
    columns: &[NAME, Column::new("Holder", "string", "Identity of the lease holder."), AGE],
    row: |obj, now| cells![name(obj), str_at(obj, &["spec", "holderIdentity"]), age(obj, now)].into(),
};

pub(crate) const PRIORITY_CLASS: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Value", "integer", "Priority of pods using the class."),
        Column::new("Global-Default", "boolean", "Whether the class applies to pods without one."),
        AGE,
        Column::new("PreemptionPolicy", "string", "Whether pods of the class may preempt others."),
    ],
    row: |obj, now| {
        cells![
            name(obj),
            int_at(obj, &["value"]),
            bool_at(obj, &["globalDefault"]),
            age(obj, now),
            str_at(obj, &["preemptionPolicy"]),
        ]
        .into()
    },
};

pub(crate) const POD_DISRUPTION_BUDGET: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Min Available", "string", "Pods that must stay available."),
        Column::new("Max Unavailable", "string", "Pods that may be unavailable."),
        Column::new("Allowed Disruptions", "integer", "Disruptions currently allowed."),
        AGE,
    ],
    row: |obj, now| {
        let field = |f: &str| at(obj, &["spec", f]).map_or_else(|| "N/A".to_owned(), int_or_string);
        cells![
            name(obj),
            field("minAvailable"),
            field("maxUnavailable"),
            int_at(obj, &["status", "disruptionsAllowed"]),
            age(obj, now),
        ]
        .into()
    },
};

pub(crate) const RUNTIME_CLASS: Printer = Printer {
    columns: &[NAME, Column::new("Handler", "string", "Container runtime handler."), AGE],
    row: |obj, now| cells![name(obj), str_at(obj, &["handler"]), age(obj, now)].into(),
};

pub(crate) const WEBHOOK_CONFIGURATION: Printer = Printer {
    columns: &[NAME, Column::new("Webhooks", "integer", "Number of webhooks in the configuration."), AGE],
    row: |obj, now| cells![name(obj), len_at(obj, &["webhooks"]) as i64, age(obj, now)].into(),
};

pub(crate) const CERTIFICATE_SIGNING_REQUEST: Printer = Printer {
    columns: &[
        NAME,
        AGE,
        Column::new("SignerName", "string", "Signer asked to sign the certificate."),
        Column::new("Requestor", "string", "User who created the request."),
        Column::new("RequestedDuration", "string", "Requested validity of the certificate."),
        Column::new("Condition", "string", "Approval state, and whether it failed or was issued."),
    ],
    row: |obj, now| {
        let types: Vec<&str> = list_at(obj, &["status", "conditions"]).iter().map(|c| str_at(c, &["type"])).collect();
        let mut condition = if types.contains(&"Denied") {
            "Denied"
        } else if types.contains(&"Approved") {
            "Approved"
        } else {
            "Pending"
        }
        .to_owned();
        if types.contains(&"Failed") {
            condition.push_str(",Failed");
        }
        if !str_at(obj, &["status", "certificate"]).is_empty() {
            condition.push_str(",Issued");
        }
        let duration = opt_int(obj, &["spec", "expirationSeconds"])
            .map_or_else(|| "<none>".to_owned(), |s| human_duration(TimeDelta::seconds(s)));
        cells![
            name(obj),
            age(obj, now),
            opt_str(obj, &["spec", "signerName"]).filter(|s| !s.is_empty()).unwrap_or("<none>"),
            str_at(obj, &["spec", "username"]),
            duration,
            condition,
        ]
        .into()
    },
};

pub(crate) const API_SERVICE: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Service", "string", "The service serving the API, or Local."),
        Column::new("Available", "string", "Whether the API is available, with the reason if not."),
        AGE,
    ],
    row: |obj, now| {
        let service = match at(obj, &["spec", "service"]) {
            Some(svc) => format!("{}/{}", str_at(svc, &["namespace"]), str_at(svc, &["name"])),
            None => "Local".to_owned(),
        };
        let available = match condition(list_at(obj, &["status", "conditions"]), "Available") {
            None => "Unknown".to_owned(),
            Some(c) => match (str_at(c, &["status"]), str_at(c, &["reason"])) {
                ("True", _) => "True".to_owned(),
                (status, "") => status.to_owned(),
                (status, reason) => format!("{status} ({reason})"),
            },
        };
        cells![name(obj), service, available, age(obj, now)].into()
    },
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::json::parse_time;
    use chrono::{DateTime, Utc};
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        parse_time("2024-06-01T12:00:00Z").unwrap()
    }

    #[test]
    fn lease() {
        let l = json!({"metadata": {"name": "kube-scheduler", "namespace": "kube-system", "creationTimestamp": "2024-05-30T12:00:00Z"},
                       "spec": {"holderIdentity": "cp-1_6d1c", "leaseDurationSeconds": 15}});
        assert_eq!((LEASE.row)(&l, now()).cells, vec![json!("kube-scheduler"), json!("cp-1_6d1c"), json!("2d")]);
        let free = json!({"metadata": {"name": "x"}, "spec": {}});
        assert_eq!((LEASE.row)(&free, now()).cells[1], json!(""));
    }

    #[test]
    fn priority_class() {
        let pc = json!({"metadata": {"name": "system-cluster-critical", "creationTimestamp": "2024-06-01T11:59:50Z"},
                        "value": 2000000000, "preemptionPolicy": "PreemptLowerPriority"});
        assert_eq!(
            (PRIORITY_CLASS.row)(&pc, now()).cells,
            vec![
                json!("system-cluster-critical"),
                json!(2000000000),
                json!(false),
                json!("10s"),
                json!("PreemptLowerPriority")
            ]
        );
        assert!(PRIORITY_CLASS.columns.iter().all(|c| c.priority == 0));
    }

    #[test]
    fn pod_disruption_budget() {
        let pdb = json!({"metadata": {"name": "web", "creationTimestamp": "2024-06-01T06:00:00Z"},
                         "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}},
                         "status": {"disruptionsAllowed": 1, "currentHealthy": 3, "desiredHealthy": 2}});
        assert_eq!(
            (POD_DISRUPTION_BUDGET.row)(&pdb, now()).cells,
            vec![json!("web"), json!("2"), json!("N/A"), json!(1), json!("6h")]
        );
        let pct = json!({"metadata": {"name": "db"}, "spec": {"maxUnavailable": "25%"}});
        assert_eq!((POD_DISRUPTION_BUDGET.row)(&pct, now()).cells[1..4], [json!("N/A"), json!("25%"), json!(0)]);
    }

    #[test]
    fn runtime_class_and_webhooks() {
        let rc = json!({"metadata": {"name": "gvisor"}, "handler": "runsc"});
        assert_eq!((RUNTIME_CLASS.row)(&rc, now()).cells, vec![json!("gvisor"), json!("runsc"), json!("<unknown>")]);
        let wh = json!({"metadata": {"name": "cert-manager-webhook", "creationTimestamp": "2024-06-01T11:00:00Z"},
                        "webhooks": [{"name": "webhook.cert-manager.io"}]});
        assert_eq!(
            (WEBHOOK_CONFIGURATION.row)(&wh, now()).cells,
            vec![json!("cert-manager-webhook"), json!(1), json!("60m")]
        );
    }

    #[test]
    fn certificate_signing_request() {
        let csr = json!({
            "metadata": {"name": "csr-8x2k", "creationTimestamp": "2024-06-01T11:58:00Z"},
            "spec": {"signerName": "kubernetes.io/kube-apiserver-client-kubelet", "username": "system:bootstrap:abcdef",
                     "expirationSeconds": 86400, "request": "LS0t"},
            "status": {"conditions": [{"type": "Approved", "status": "True"}], "certificate": "LS0tLS1CRUdJTi"}
        });
        assert_eq!(
            (CERTIFICATE_SIGNING_REQUEST.row)(&csr, now()).cells,
            vec![
                json!("csr-8x2k"),
                json!("2m"),
                json!("kubernetes.io/kube-apiserver-client-kubelet"),
                json!("system:bootstrap:abcdef"),
                json!("24h"),
                json!("Approved,Issued")
            ]
        );
        let denied = json!({"metadata": {"name": "x"}, "spec": {},
                            "status": {"conditions": [{"type": "Denied"}, {"type": "Failed"}]}});
        let cells = (CERTIFICATE_SIGNING_REQUEST.row)(&denied, now()).cells;
        assert_eq!(
            (cells[2].clone(), cells[4].clone(), cells[5].clone()),
            (json!("<none>"), json!("<none>"), json!("Denied,Failed"))
        );
    }

    #[test]
    fn api_service() {
        let local = json!({"metadata": {"name": "v1.apps", "creationTimestamp": "2024-05-22T12:00:00Z"},
                           "spec": {"group": "apps", "version": "v1", "groupPriorityMinimum": 17800, "versionPriority": 15},
                           "status": {"conditions": [{"type": "Available", "status": "True", "reason": "Local"}]}});
        assert_eq!(
            (API_SERVICE.row)(&local, now()).cells,
            vec![json!("v1.apps"), json!("Local"), json!("True"), json!("10d")]
        );
        let remote = json!({"metadata": {"name": "v1beta1.metrics.k8s.io"},
                            "spec": {"service": {"namespace": "kube-system", "name": "metrics-server"}},
                            "status": {"conditions": [{"type": "Available", "status": "False", "reason": "MissingEndpoints"}]}});
        let cells = (API_SERVICE.row)(&remote, now()).cells;
        assert_eq!(cells[1..3], [json!("kube-system/metrics-server"), json!("False (MissingEndpoints)")]);
        let fresh = json!({"metadata": {"name": "v1.x"}, "spec": {}});
        assert_eq!((API_SERVICE.row)(&fresh, now()).cells[2], json!("Unknown"));
    }
}

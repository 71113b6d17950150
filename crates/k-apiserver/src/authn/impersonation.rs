//! Impersonation: `Impersonate-User`, `Impersonate-Group`,
//! `Impersonate-Uid` and `Impersonate-Extra-<key>` headers make a request
//! act as another user (what `kubectl --as` and `--as-group` send).
//!
//! Each requested identity must be allowed to the requester with the verb
//! `impersonate`, as kube-apiserver checks it: `users` (or `serviceaccounts`
//! in their namespace, for a service account's user name) and `groups` in
//! the core group, `uids` and `userextras/<key>` in
//! `authentication.k8s.io`. A refusal is kube-apiserver's 403.

use k_store::api::UserInfo;

use super::{ANONYMOUS_USER, AUTHENTICATED, UNAUTHENTICATED, service_account};
use crate::authz::{Attributes, Authorization};
use crate::error::{ApiError, ApiResult};

const USER: &str = "impersonate-user";
const GROUP: &str = "impersonate-group";
const UID: &str = "impersonate-uid";
const EXTRA: &str = "impersonate-extra-";

/// The user a request acts as: `user` itself without impersonation
/// headers, else the impersonated user once `authorization` (None: allow
/// all) allows each part of it.
pub fn impersonate(
    headers: &http::HeaderMap,
    user: UserInfo,
    authorization: Option<&Authorization>,
) -> ApiResult<UserInfo> {
    let values = |name: &str| -> ApiResult<Vec<String>> {
        headers
            .get_all(name)
            .iter()
            .map(|v| {
                v.to_str()
                    .map(|s| s.trim().to_owned())
                    .map_err(|_| ApiError::bad_request(format!("the {name} header is not valid text")))
            })
            .collect()
    };
    let users = values(USER)?;
    let groups = values(GROUP)?;
    let uids = values(UID)?;
    let mut extra = std::collections::BTreeMap::<String, Vec<String>>::new();
    for (name, value) in headers {
        if let Some(key) = name.as_str().strip_prefix(EXTRA) {
            let key = percent_decode(key);
            let value =
                value.to_str().map_err(|_| ApiError::bad_request(format!("the {name} header is not valid text")))?;
            extra.entry(key).or_default().push(value.trim().to_owned());
        }
    }
    if users.is_empty() {
        if !groups.is_empty() || !uids.is_empty() || !extra.is_empty() {
            return Err(ApiError::bad_request(
                "impersonating groups, a uid or extra fields requires impersonating a user (Impersonate-User)",
            ));
        }
        return Ok(user);
    }
    if users.len() > 1 || uids.len() > 1 {
        return Err(ApiError::bad_request("only one user and one uid may be impersonated"));
    }
    let username = users[0].clone();
    if username.is_empty() {
        return Err(ApiError::bad_request("the Impersonate-User header is empty"));
    }
    let check = |verb_attrs: Attributes<'_>| -> ApiResult<()> {
        match authorization {
            None => Ok(()),
            Some(a) => a.check(&verb_attrs),
        }
    };
    let user = &user;
    let ask = |group: &'static str, resource: &'static str, sub: &str, namespace: &str, name: &str| {
        check(Attributes::resource(user, "impersonate", group, resource, sub, namespace, name))
    };
    match service_account::split_username(&username) {
        Some((namespace, name)) => ask("", "serviceaccounts", "", namespace, name)?,
        None => ask("", "users", "", "", &username)?,
    }
    for group in &groups {
        ask("", "groups", "", "", group)?;
    }
    for uid in &uids {
        ask("authentication.k8s.io", "uids", "", "", uid)?;
    }
    for (key, values) in &extra {
        for value in values {
            ask("authentication.k8s.io", "userextras", key, "", value)?;
        }
    }
    let mut groups = groups;
    if let Some((namespace, _)) = service_account::split_username(&username)
        && groups.is_empty()
    {
        groups.push("system:serviceaccounts".to_owned());
        groups.push(format!("system:serviceaccounts:{namespace}"));
    }
    if username == ANONYMOUS_USER {
        if !groups.iter().any(|g| g == UNAUTHENTICATED) {
            groups.push(UNAUTHENTICATED.to_owned());
        }
    } else if !groups.iter().any(|g| g == AUTHENTICATED) {
        groups.push(AUTHENTICATED.to_owned());
    }
    Ok(UserInfo { username, uid: uids.into_iter().next().unwrap_or_default(), groups, extra })
}

/// Header names carry extra keys percent-encoded (`%2F` for `/`).
fn percent_decode(key: &str) -> String {
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 3 <= bytes.len()
            && let Ok(b) = u8::from_str_radix(&key[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::{AlwaysAllow, AlwaysDeny};

    fn headers(pairs: &[(&str, &str)]) -> http::HeaderMap {
        let mut map = http::HeaderMap::new();
        for (k, v) in pairs {
            map.append(http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        map
    }

    #[test]
    fn impersonated_users_join_their_groups() {
        let admin = UserInfo::named("admin");
        let allow = Authorization::new().with(AlwaysAllow);
        let jane = impersonate(
            &headers(&[
                ("Impersonate-User", "jane"),
                ("Impersonate-Group", "dev"),
                ("Impersonate-Extra-scopes%2Fa", "x"),
            ]),
            admin.clone(),
            Some(&allow),
        )
        .unwrap();
        assert_eq!(jane.username, "jane");
        assert_eq!(jane.groups, ["dev", AUTHENTICATED]);
        assert_eq!(jane.extra["scopes/a"], ["x"]);
        let sa = impersonate(&headers(&[("Impersonate-User", "system:serviceaccount:ns:robot")]), admin.clone(), None)
            .unwrap();
        assert_eq!(sa.groups, ["system:serviceaccounts", "system:serviceaccounts:ns", AUTHENTICATED]);
        assert_eq!(impersonate(&headers(&[]), admin.clone(), None).unwrap(), admin);
    }

    #[test]
    fn refusals_name_what_was_impersonated() {
        let deny = Authorization::new().with(AlwaysDeny);
        let error =
            impersonate(&headers(&[("Impersonate-User", "jane")]), UserInfo::named("bob"), Some(&deny)).unwrap_err();
        assert_eq!(error.code(), 403);
        assert!(
            error.status.message.starts_with(
                r#"users "jane" is forbidden: User "bob" cannot impersonate resource "users" in API group "" at the cluster scope"#
            ),
            "{}",
            error.status.message
        );
        let lone_group = impersonate(&headers(&[("Impersonate-Group", "dev")]), UserInfo::named("bob"), None);
        assert_eq!(lone_group.unwrap_err().code(), 400);
    }
}

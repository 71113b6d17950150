//! Messages of `authentication.k8s.io/v1`.

use super::meta::OBJECT_META;

msg!(TOKEN_REVIEW, "TokenReview" {
    1 "metadata" (M OBJECT_META) O,
    2 "spec" (M TOKEN_REVIEW_SPEC) R,
    3 "status" (M TOKEN_REVIEW_STATUS) O,
});

msg!(TOKEN_REVIEW_SPEC, "TokenReviewSpec" {
    1 "token" Str O,
    2 "audiences" Str L,
});

msg!(TOKEN_REVIEW_STATUS, "TokenReviewStatus" {
    1 "authenticated" Bool O,
    2 "user" (M USER_INFO) O,
    4 "audiences" Str L,
    3 "error" Str O,
});

msg!(USER_INFO, "UserInfo" {
    1 "username" Str O,
    2 "uid" Str O,
    3 "groups" Str L,
    4 "extra" (Map StrList) L,
});

msg!(TOKEN_REQUEST, "TokenRequest" {
    1 "metadata" (M OBJECT_META) O,
    2 "spec" (M TOKEN_REQUEST_SPEC) R,
    3 "status" (M TOKEN_REQUEST_STATUS) O,
});

msg!(TOKEN_REQUEST_SPEC, "TokenRequestSpec" {
    1 "audiences" Str Lr,
    4 "expirationSeconds" I64 Pn,
    3 "boundObjectRef" (M BOUND_OBJECT_REFERENCE) Pn,
});

msg!(TOKEN_REQUEST_STATUS, "TokenRequestStatus" {
    1 "token" Str R,
    2 "expirationTimestamp" Time R,
});

msg!(BOUND_OBJECT_REFERENCE, "BoundObjectReference" {
    1 "kind" Str O,
    2 "apiVersion" Str O,
    3 "name" Str O,
    4 "uid" Str O,
});

msg!(SELF_SUBJECT_REVIEW, "SelfSubjectReview" {
    1 "metadata" (M OBJECT_META) O,
    2 "status" (M SELF_SUBJECT_REVIEW_STATUS) O,
});

msg!(SELF_SUBJECT_REVIEW_STATUS, "SelfSubjectReviewStatus" {
    1 "userInfo" (M USER_INFO) O,
});

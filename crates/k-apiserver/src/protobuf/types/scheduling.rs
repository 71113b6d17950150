//! Messages of `scheduling.k8s.io/v1`.

use super::meta::OBJECT_META;

msg!(PRIORITY_CLASS, "PriorityClass" {
    1 "metadata" (M OBJECT_META) O,
    2 "value" I32 R,
    3 "globalDefault" Bool O,
    4 "description" Str O,
    5 "preemptionPolicy" Str P,
});

//! What the code `#[wire]` generates calls (not a public API).

use std::fmt;
use std::marker::PhantomData;

use serde::de::{SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use smallvec::SmallVec;

/// Decodes a list to a vector of exactly its length; `null` is an empty
/// list (Go decodes it as a nil slice).
///
/// serde grows a vector by doubling while it reads, so a list of one
/// container kept room for four: a cached pod wasted 4.5 KiB this way. The
/// items are gathered on the stack (up to four) and then moved into one
/// allocation of the list's size, so the heap holds no slack and no
/// split-off remainders.
pub fn exact_vec<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Exact<T>>::deserialize(deserializer)?.map(|e| e.0).unwrap_or_default())
}

struct Exact<T>(Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Exact<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Items<T>(PhantomData<fn() -> T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for Items<T> {
            type Value = Exact<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Exact<T>, A::Error> {
                let mut items: SmallVec<[T; 4]> = SmallVec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                let mut exact = Vec::with_capacity(items.len());
                exact.extend(items);
                Ok(Exact(exact))
            }
        }

        deserializer.deserialize_seq(Items(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use crate::core::v1::Pod;

    #[test]
    fn lists_decode_to_their_length_and_null_is_empty() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "finalizers": null},
            "spec": {"containers": [{"name": "a", "args": ["x"]}], "volumes": null}
        }))
        .unwrap();
        assert_eq!(pod.spec.containers.len(), 1);
        assert_eq!(pod.spec.containers.capacity(), 1);
        assert_eq!(pod.spec.containers[0].args.capacity(), 1);
        assert!(pod.spec.volumes.is_empty() && pod.metadata.finalizers.is_empty());
        let err = serde_json::from_value::<Pod>(serde_json::json!({"spec": {"containers": 3}})).unwrap_err();
        assert!(err.to_string().contains("invalid type"), "{err}");
    }
}

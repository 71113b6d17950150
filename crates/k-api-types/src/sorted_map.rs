//! [`SortedMap`]: the map type of k's resource models (labels, annotations,
//! selectors, resource lists, ConfigMap and Secret data).
//!
//! Kubernetes objects carry many small string maps: a pod has labels,
//! annotations, a node selector and a request and limit list per container,
//! most with one to five entries. A `BTreeMap` allocates a node for eleven
//! entries however few it holds (about 540 bytes for `String` → `String`);
//! `SortedMap` keeps its entries in one vector sorted by key (on
//! [`litemap::LiteMap`]), sized to what it holds once decoded. That saves
//! about 2.5 KiB per cached pod, and iteration order is the key order, as
//! with a `BTreeMap`, so objects serialize the same way.
//!
//! It reads like a `BTreeMap`: `get`, `insert`, `remove`, `contains_key`,
//! `entry`, `retain`, `iter`, `keys`, `values`, `len` (through `Deref` to
//! `LiteMap`), `map["key"]`, `collect()`, `extend`, `for (k, v) in &map`,
//! and `SortedMap::from([(key, value)])`. Lookups are binary searches;
//! inserting into the middle of a large map moves the entries after it, so
//! build large maps with `collect()` (one sort) rather than key by key.
//!
//! ```
//! use k_api_types::SortedMap;
//!
//! let mut labels = SortedMap::from([("tier".to_owned(), "web".to_owned()), ("app".into(), "shop".into())]);
//! labels.insert("env".into(), "prod".into());
//! assert_eq!(labels["app"], "shop");
//! assert_eq!(labels.keys().collect::<Vec<_>>(), ["app", "env", "tier"]);
//! assert_eq!(serde_json::to_string(&labels).unwrap(), r#"{"app":"shop","env":"prod","tier":"web"}"#);
//! ```

use std::borrow::{Borrow, Cow};
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut, Index};

use litemap::LiteMap;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};
use smallvec::SmallVec;

/// A map kept as one vector of entries sorted by key; see the
/// [module docs](self).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SortedMap<K, V>(LiteMap<K, V>);

impl<K, V> SortedMap<K, V> {
    /// An empty map (no allocation).
    pub const fn new() -> Self {
        SortedMap(LiteMap::new_vec())
    }

    /// The entries as a vector sorted by key.
    pub fn into_vec(self) -> Vec<(K, V)> {
        self.0.into_tuple_vec()
    }

    /// How many entries there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none (also as a path, for serde's
    /// `skip_serializing_if`).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The values, mutably, in key order.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.0.iter_mut().map(|(_, v)| v)
    }
}

impl<K: Ord, V> SortedMap<K, V> {
    /// A map of `entries` in any order; of repeated keys, the last wins.
    pub fn from_vec(mut entries: Vec<(K, V)>) -> Self {
        // A stable sort keeps repeated keys in order: keep the last of each run.
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut kept: Vec<(K, V)> = Vec::with_capacity(entries.len());
        for entry in entries {
            match kept.last_mut() {
                Some(last) if last.0 == entry.0 => *last = entry,
                _ => kept.push(entry),
            }
        }
        kept.shrink_to_fit();
        SortedMap(LiteMap::from_sorted_store_unchecked(kept))
    }
}

impl<K, V> Default for SortedMap<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K, V> Deref for SortedMap<K, V> {
    type Target = LiteMap<K, V>;

    fn deref(&self) -> &LiteMap<K, V> {
        &self.0
    }
}

impl<K, V> DerefMut for SortedMap<K, V> {
    fn deref_mut(&mut self) -> &mut LiteMap<K, V> {
        &mut self.0
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for SortedMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.0.iter()).finish()
    }
}

impl<K, V, Q> Index<&Q> for SortedMap<K, V>
where
    K: Borrow<Q> + Ord,
    Q: Ord + ?Sized,
{
    type Output = V;

    /// The value of `key`; panics when there is none (as `BTreeMap` does).
    fn index(&self, key: &Q) -> &V {
        self.0.get(key).expect("no entry found for key")
    }
}

impl<K: Ord, V> FromIterator<(K, V)> for SortedMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self::from_vec(iter.into_iter().collect())
    }
}

impl<K: Ord, V> Extend<(K, V)> for SortedMap<K, V> {
    /// Appends, then sorts once (new values win), rather than inserting key
    /// by key into the vector.
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        let mut entries = std::mem::take(self).into_vec();
        entries.extend(iter);
        *self = Self::from_vec(entries);
    }
}

impl<K, V> IntoIterator for SortedMap<K, V> {
    type Item = (K, V);
    type IntoIter = std::vec::IntoIter<(K, V)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_tuple_vec().into_iter()
    }
}

impl<'a, K, V> IntoIterator for &'a SortedMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = <&'a LiteMap<K, V> as IntoIterator>::IntoIter;

    fn into_iter(self) -> Self::IntoIter {
        (&self.0).into_iter()
    }
}

impl<'a, K, V> IntoIterator for &'a mut SortedMap<K, V> {
    type Item = (&'a K, &'a mut V);
    type IntoIter = <&'a mut LiteMap<K, V> as IntoIterator>::IntoIter;

    fn into_iter(self) -> Self::IntoIter {
        (&mut self.0).into_iter()
    }
}

impl<K: Ord, V, const N: usize> From<[(K, V); N]> for SortedMap<K, V> {
    fn from(entries: [(K, V); N]) -> Self {
        Self::from_vec(Vec::from(entries))
    }
}

impl<K: Ord, V> From<BTreeMap<K, V>> for SortedMap<K, V> {
    fn from(map: BTreeMap<K, V>) -> Self {
        // Already sorted and unique.
        SortedMap(LiteMap::from_sorted_store_unchecked(map.into_iter().collect()))
    }
}

impl<K: Ord, V> From<SortedMap<K, V>> for BTreeMap<K, V> {
    fn from(map: SortedMap<K, V>) -> Self {
        map.into_iter().collect()
    }
}

impl<K: Serialize, V: Serialize> Serialize for SortedMap<K, V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0.iter() {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de, K, V> Deserialize<'de> for SortedMap<K, V>
where
    K: Deserialize<'de> + Ord,
    V: Deserialize<'de>,
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries<K, V>(PhantomData<fn() -> (K, V)>);

        impl<'de, K: Deserialize<'de> + Ord, V: Deserialize<'de>> Visitor<'de> for Entries<K, V> {
            type Value = SortedMap<K, V>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
                // Small maps are gathered on the stack, then moved into one
                // allocation of exactly their size (no growth, no shrink).
                let mut entries: SmallVec<[(K, V); 8]> = SmallVec::new();
                let mut sorted = true;
                while let Some((k, v)) = access.next_entry::<K, V>()? {
                    if let Some((last, _)) = entries.last() {
                        sorted &= *last < k;
                    }
                    entries.push((k, v));
                }
                let mut exact: Vec<(K, V)> = Vec::with_capacity(entries.len());
                exact.extend(entries);
                let entries = exact;
                if sorted {
                    // The usual case (k and Kubernetes write keys in order).
                    return Ok(SortedMap(LiteMap::from_sorted_store_unchecked(entries)));
                }
                Ok(SortedMap::from_vec(entries))
            }
        }

        deserializer.deserialize_map(Entries(PhantomData))
    }
}

impl<K, V: JsonSchema> JsonSchema for SortedMap<K, V> {
    fn schema_name() -> Cow<'static, str> {
        <BTreeMap<String, V> as JsonSchema>::schema_name()
    }

    fn schema_id() -> Cow<'static, str> {
        <BTreeMap<String, V> as JsonSchema>::schema_id()
    }

    fn inline_schema() -> bool {
        <BTreeMap<String, V> as JsonSchema>::inline_schema()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        <BTreeMap<String, V> as JsonSchema>::json_schema(generator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_in_any_order_and_keeps_the_last_of_repeated_keys() {
        let m: SortedMap<String, u32> = serde_json::from_str(r#"{"b":1,"a":2,"c":3,"a":4}"#).unwrap();
        assert_eq!(m.iter().map(|(k, v)| (k.as_str(), *v)).collect::<Vec<_>>(), [("a", 4), ("b", 1), ("c", 3)]);
        assert_eq!(serde_json::to_string(&m).unwrap(), r#"{"a":4,"b":1,"c":3}"#);
        // Past the eight entries gathered on the stack, in and out of order.
        for keys in [(0..20).collect::<Vec<u32>>(), (0..20).rev().collect()] {
            let json = format!("{{{}}}", keys.iter().map(|k| format!("\"k{k:02}\":{k}")).collect::<Vec<_>>().join(","));
            let m: SortedMap<String, u32> = serde_json::from_str(&json).unwrap();
            assert_eq!(m.len(), 20);
            assert_eq!(m.values().copied().collect::<Vec<_>>(), (0..20).collect::<Vec<u32>>());
        }
    }

    #[test]
    fn reads_and_writes_like_a_btreemap() {
        let mut m: SortedMap<String, String> = SortedMap::from([("x".into(), "1".into())]);
        *m.entry("y".into()).or_default() += "2";
        m.extend([("a".to_owned(), "0".to_owned())]);
        assert_eq!(m["y"], "2");
        assert!(m.contains_key("a") && m.get("z").is_none());
        m.retain(|k, _| k != "x");
        let b: BTreeMap<String, String> = m.clone().into();
        assert_eq!(SortedMap::from(b), m);
        assert_eq!(format!("{m:?}"), r#"{"a": "0", "y": "2"}"#);
        assert!(serde_json::from_str::<SortedMap<String, String>>("[]").is_err());
    }
}

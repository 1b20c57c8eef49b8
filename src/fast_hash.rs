//! A quick hash for maps keyed by paths and task names: xxh3 over the key's
//! bytes. Not resistant to chosen collisions, which a user's own file names
//! cannot be an attack on; std's SipHash was a few percent of a no-op run.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Hashes what it is fed with xxh3, each write seeded by the state so far.
#[derive(Debug, Default, Clone, Copy)]
pub struct Xxh3Hasher(u64);

impl Hasher for Xxh3Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0 = xxhash_rust::xxh3::xxh3_64_with_seed(bytes, self.0);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A `HashMap` using [`Xxh3Hasher`].
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<Xxh3Hasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_found_and_told_apart() {
        let mut map: FastMap<String, u32> = FastMap::default();
        for i in 0..1000 {
            map.insert(format!("t{i}"), i);
        }
        assert_eq!(map.len(), 1000);
        assert!((0..1000).all(|i| map[&format!("t{i}")] == i));
        assert_eq!(map.get("t1000"), None);
    }
}

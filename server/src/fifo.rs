//! A bounded map for this instance's caches: when full, the entry put in
//! first goes first. What a cache keeps is only ever a copy; whether a copy
//! may still be used is the cache's own check (see `app::store::changes`).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

pub struct Fifo<V> {
    capacity: usize,
    entries: Mutex<Entries<V>>,
}

struct Entries<V> {
    by_key: HashMap<String, Arc<V>>,
    /// Oldest first.
    order: VecDeque<String>,
}

impl<V> Fifo<V> {
    /// Keeps up to `capacity` entries; 0 keeps none.
    pub fn new(capacity: usize) -> Fifo<V> {
        Fifo { capacity, entries: Mutex::new(Entries { by_key: HashMap::new(), order: VecDeque::new() }) }
    }

    pub fn is_off(&self) -> bool {
        self.capacity == 0
    }

    pub fn get(&self, key: &str) -> Option<Arc<V>> {
        self.entries.lock().ok()?.by_key.get(key).cloned()
    }

    /// Keeps `value` under `key`, replacing what was there.
    pub fn put(&self, key: String, value: V) {
        if self.capacity == 0 {
            return;
        }
        let Ok(mut entries) = self.entries.lock() else { return };
        if entries.by_key.insert(key.clone(), Arc::new(value)).is_none() {
            entries.order.push_back(key);
        }
        while entries.order.len() > self.capacity {
            if let Some(old) = entries.order.pop_front() {
                entries.by_key.remove(&old);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.by_key.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_entry_goes_first_when_full() {
        let cache = Fifo::new(2);
        cache.put("a".into(), 1);
        cache.put("b".into(), 2);
        cache.put("a".into(), 3);
        assert_eq!((cache.len(), cache.get("a").as_deref()), (2, Some(&3)), "replaced in place");
        cache.put("c".into(), 4);
        assert!(cache.get("a").is_none() && cache.get("b").is_some() && cache.get("c").is_some());
        let none = Fifo::new(0);
        none.put("a".into(), 1);
        assert!(none.is_empty() && none.is_off());
    }
}

//! A process-wide memo of values that are pure functions of their key:
//! what a sweep's runs would otherwise compute again on every worker
//! thread (a medium learner, a dataset's value unit). Sharing changes no
//! number, only how often it is computed.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// At most `capacity` values by key, the oldest dropped first. A thread
/// asking for a value another is computing waits for it rather than
/// computing it again.
pub struct Memo<K, V> {
    kept: Mutex<VecDeque<(K, Arc<OnceLock<V>>)>>,
    capacity: usize,
}

impl<K, V: Clone> Memo<K, V> {
    pub const fn new(capacity: usize) -> Self {
        Memo {
            kept: Mutex::new(VecDeque::new()),
            capacity,
        }
    }

    /// The value of the first key that `matches`, or `compute`'s, kept
    /// under `key()`.
    pub fn get_or_compute(
        &self,
        matches: impl Fn(&K) -> bool,
        key: impl FnOnce() -> K,
        compute: impl FnOnce() -> V,
    ) -> V {
        let slot = {
            let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((_, slot)) = kept.iter().find(|(k, _)| matches(k)) {
                slot.clone()
            } else {
                if kept.len() >= self.capacity {
                    kept.pop_front();
                }
                let slot = Arc::default();
                kept.push_back((key(), Arc::clone(&slot)));
                slot
            }
        };
        slot.get_or_init(compute).clone()
    }

    /// The value of the first key that `matches` if one is kept (waiting
    /// while another thread computes it), without computing one.
    pub fn get(&self, matches: impl Fn(&K) -> bool) -> Option<V> {
        let slot = {
            let kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
            kept.iter().find(|(k, _)| matches(k))?.1.clone()
        };
        Some(slot.wait().clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn each_key_is_computed_once_until_it_is_dropped() {
        let memo = Memo::<u32, u32>::new(2);
        let computed = AtomicUsize::new(0);
        let get = |k: u32| {
            memo.get_or_compute(
                |&x| x == k,
                || k,
                || {
                    computed.fetch_add(1, Ordering::Relaxed);
                    k * 10
                },
            )
        };
        assert_eq!((get(1), get(2), get(1)), (10, 20, 10));
        assert_eq!(computed.load(Ordering::Relaxed), 2);
        // A third key drops the oldest, 1, which is computed again.
        assert_eq!((get(3), get(1)), (30, 10));
        assert_eq!(computed.load(Ordering::Relaxed), 4);
    }

    #[test]
    fn threads_asking_for_one_key_compute_it_once() {
        let memo = Memo::<u32, u32>::new(4);
        let computed = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    memo.get_or_compute(
                        |&x| x == 7,
                        || 7,
                        || {
                            computed.fetch_add(1, Ordering::Relaxed);
                            70
                        },
                    )
                });
            }
        });
        assert_eq!(computed.load(Ordering::Relaxed), 1);
    }
}

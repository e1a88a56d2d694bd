//! The sensor's attachments, owned here so they can be detached together.
//!
//! Detaching a tracepoint program waits for the kernel's RCU grace periods
//! (the tracepoint's unregistration synchronises before it returns), and
//! aya detaches the links a program owns one after the other: ~100 hooks
//! took ~9 s to stop, most of it sleeping. Grace periods are shared by every
//! waiter that started before them, so the links are taken out of their
//! programs when attached and, on drop, closed from several threads at
//! once: the waits overlap and stopping takes a few grace periods in all.

/// Threads that close links at once. A few dozen concurrent closes already
/// share one grace period; more threads only cost more stacks.
const DETACH_THREADS: usize = 32;

/// Every link the sensor attached (of any program type).
#[derive(Default)]
pub(crate) struct Links(Vec<Box<dyn Send>>);

impl Links {
    /// Keeps `link` attached until this set is dropped.
    pub fn keep<L: Send + 'static>(&mut self, link: L) {
        self.0.push(Box::new(link));
    }

    /// Takes over every link of `other`.
    pub fn absorb(&mut self, mut other: Links) {
        self.0.append(&mut other.0);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl Drop for Links {
    fn drop(&mut self) {
        let links = std::mem::take(&mut self.0);
        let n = links.len();
        if n == 0 {
            return;
        }
        let started = std::time::Instant::now();
        let threads = n.min(DETACH_THREADS);
        let mut buckets: Vec<Vec<Box<dyn Send>>> = (0..threads).map(|_| Vec::new()).collect();
        for (i, l) in links.into_iter().enumerate() {
            buckets[i % threads].push(l);
        }
        std::thread::scope(|s| {
            for b in buckets {
                // A thread that cannot start drops its bucket here instead.
                if let Err(e) = std::thread::Builder::new()
                    .name("vigil-detach".into())
                    .spawn_scoped(s, move || drop(b))
                {
                    log::debug!("detaching on the calling thread: {e}");
                }
            }
        });
        log::debug!("detached {n} links in {:?}", started.elapsed());
    }
}

//! Owning spawned tasks.

/// Aborts tasks when dropped: a future that spawns helpers holds one, so
/// that dropping the future (a lost lease, a cancelled run) stops them too.
pub(crate) struct AbortOnDrop(Vec<tokio::task::AbortHandle>);

impl AbortOnDrop {
    /// Aborts `tasks` on drop.
    pub(crate) fn new<'a, T: 'a>(tasks: impl IntoIterator<Item = &'a tokio::task::JoinHandle<T>>) -> Self {
        AbortOnDrop(tasks.into_iter().map(tokio::task::JoinHandle::abort_handle).collect())
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        for handle in &self.0 {
            handle.abort();
        }
    }
}

//! Warnings for the client while a request runs: kube-apiserver sends them as
//! `Warning: 299 - "..."` headers and kubectl prints them. Code deep in a request (the
//! image policy's admission, say) adds one with [`warn`]; the HTTP layer runs the request
//! inside [`collect`] and sends what was added. A task-local keeps every signature in
//! between unchanged.

use std::cell::RefCell;
use std::future::Future;

tokio::task_local! {
    static SINK: RefCell<Vec<String>>;
}

/// The most warnings one response carries; more are dropped (a client prints each)
const MAX_WARNINGS: usize = 32;

/// Runs `request`, returning its output and the warnings added while it ran
pub async fn collect<F: Future>(request: F) -> (F::Output, Vec<String>) {
    SINK.scope(RefCell::new(Vec::new()), async move {
        let output = request.await;
        let warnings = SINK.with(|sink| sink.take());
        (output, warnings)
    })
    .await
}

/// Adds a warning to the running request's response; outside [`collect`] it is dropped
pub fn warn(message: impl Into<String>) {
    let message = message.into();
    let _ = SINK.try_with(|sink| {
        let mut sink = sink.borrow_mut();
        if sink.len() < MAX_WARNINGS {
            sink.push(message);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn warnings_reach_the_collector_and_nowhere_else() {
        warn("outside: dropped");
        let (value, warnings) = collect(async {
            warn("one");
            tokio::task::yield_now().await;
            warn("two");
            7
        })
        .await;
        assert_eq!(value, 7);
        assert_eq!(warnings, vec!["one".to_owned(), "two".to_owned()]);
        let (_, none) = collect(async {}).await;
        assert!(none.is_empty());
    }
}

//! Background work. Each job is a steppable single step (claim due rows with
//! a lease, work outside any transaction, record the outcome) plus a loop
//! that runs steps; tests and benchmarks call the steps with their own clock.

pub mod alert_delivery;
pub mod flag_review;
pub mod github_sync;
pub mod registry_poll;
pub mod run_task_check;
pub mod sla_monitor;

/// Names this process in leases and status pages: host, pid and a random
/// suffix, so two instances on one machine differ too.
pub fn instance_id() -> String {
    let host = std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()).unwrap_or_else(|| "server".into());
    format!("{host}-{}-{:04x}", std::process::id(), rand::random::<u16>())
}

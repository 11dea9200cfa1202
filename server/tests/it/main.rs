//! Integration tests: the real server, a fresh database per test, each test
//! run on SQLite and on PostgreSQL.

mod fake_github;
mod fake_github_api;
mod fake_registry;
mod fake_run_task;
mod helpers;
mod smtp_sink;

mod access_matrix;
mod alerts;
mod api_integrations;
mod api_partners;
mod audit;
mod changes;
mod flags;
mod github_client;
mod github_sync;
mod pages;
mod pipeline;
mod registry;
mod run_task_checks;
mod sign_in;
mod storage;
mod support;

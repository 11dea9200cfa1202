//! The run-task check runner: claims a queued check (a lease, so two
//! instances never send the same check), sends Terraform Cloud's requests
//! to the partner's endpoint one after another, saving each result as it
//! comes (the page shows them live), then leaves the check waiting for its
//! callbacks. Callbacks land on whichever instance receives them; the
//! verdict is written when the last final status arrives or, by the
//! sweep here, when the time limit passes.

use crate::outbound::run_task::{sign, RunTaskClient};
use app::domain::conformance::{self as rules, CheckSettings, CheckState, Probe, Run, TEST_TOKEN};
use app::error::AppError;
use app::services::run_task_checks as service;
use app::services::secret;
use app::store::run_task_checks as store;
use app::store::Db;
use chrono::{DateTime, Utc};
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct Settings {
    /// Whether this instance runs checks (`RUN_TASK_CHECKS`).
    pub enabled: bool,
    /// How often it looks for queued checks (`RUN_TASK_CHECK_TICK_MS`).
    pub tick: std::time::Duration,
    /// How long one request may take (`RUN_TASK_CHECK_TIMEOUT_SECONDS`).
    pub timeout: std::time::Duration,
    /// The callback time limit and the hourly allowance.
    pub limits: CheckSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            enabled: true,
            tick: std::time::Duration::from_secs(1),
            timeout: std::time::Duration::from_secs(10),
            limits: CheckSettings::default(),
        }
    }
}

pub struct Runner {
    db: Db,
    client: Arc<RunTaskClient>,
    settings: Settings,
    instance: String,
    /// The tracker's public address: callback and document URLs start here.
    base_url: String,
}

fn random_id(prefix: &str) -> String {
    let bytes: [u8; 20] = rand::random();
    rules::tfc_id(prefix, &bytes)
}

impl Runner {
    pub fn new(db: Db, client: Arc<RunTaskClient>, settings: Settings, instance: String, base_url: String) -> Self {
        Runner { db, client, settings, instance, base_url: base_url.trim_end_matches('/').to_string() }
    }

    /// Sends one queued check, if there is one; true when it did.
    pub async fn step(&self, now: DateTime<Utc>) -> Result<bool, AppError> {
        match self.claim(now).await? {
            Some(claimed) => self.handle(claimed, now).await.map(|_| true),
            None => Ok(false),
        }
    }

    async fn claim(&self, now: DateTime<Utc>) -> Result<Option<(i64, String)>, AppError> {
        // Long enough for every request to time out, with room to spare.
        let lease =
            chrono::Duration::from_std(self.settings.timeout * 8).unwrap_or(chrono::Duration::minutes(2)) + chrono::Duration::seconds(60);
        Ok(store::claim(&self.db, &self.instance, now, lease).await?)
    }

    async fn handle(&self, (id, state): (i64, String), now: DateTime<Utc>) -> Result<(), AppError> {
        if state == CheckState::Sending.as_str() {
            // Its runner died mid-way: half-sent requests cannot be judged.
            return service::abandon(&self.db, id, now).await;
        }
        self.send(id, now).await
    }

    /// Writes the verdict of checks whose time limit has passed.
    pub async fn sweep(&self, now: DateTime<Utc>) -> Result<usize, AppError> {
        let mut settled = 0;
        for id in store::overdue(&self.db, now).await? {
            settled += service::settle(&self.db, id, &self.settings.limits, now).await?.is_some() as usize;
        }
        Ok(settled)
    }

    async fn send(&self, id: i64, now: DateTime<Utc>) -> Result<(), AppError> {
        let db = &self.db;
        let Some(check) = store::get(db, id).await? else { return Ok(()) };
        if !store::start_sending(db, id, &self.instance, now).await? {
            return Ok(());
        }
        // The key as registered now (it is never stored with the check).
        let key = match check.has_key {
            true => store::target(db, check.integration_id).await?.and_then(|t| t.hmac_key),
            false => None,
        };
        let signature = |body: &[u8]| key.as_deref().map(|k| sign(k, body)).unwrap_or_default();
        let stages = check.stage_list();
        let run_id = random_id("run");
        let app_url = format!("{}/integrations/{}/checks/{}", self.base_url, check.integration_id, id);
        let urls = |task_result_id: &str| {
            let base = format!("{}/run-task-checks/task-results/{task_result_id}", self.base_url);
            (format!("{base}/callback"), format!("{base}/plan-json"), format!("{base}/configuration-version"))
        };
        let limit = chrono::Duration::seconds(self.settings.limits.callback_seconds);
        let mut sent = Vec::new();

        // 1. The verification request, and 2. the same with a wrong signature.
        let verification_id = random_id("taskrs");
        let (callback_url, _, _) = urls(&verification_id);
        let body = rules::payload(&Run {
            stage: stages.first().map(String::as_str).unwrap_or("pre_plan"),
            access_token: TEST_TOKEN,
            callback_url: &callback_url,
            task_result_id: &verification_id,
            run_id: &run_id,
            created_at: Utc::now(),
            plan_json_api_url: None,
            configuration_version_download_url: None,
            app_url: &app_url,
        });
        let body = serde_json::to_vec(&body).map_err(|_| AppError::Internal)?;
        sent.push(self.client.send(Probe::Verification, &check.endpoint_url, &body, &signature(&body)).await);
        store::save_sent(db, id, &self.instance, &sent).await?;
        if let Some(k) = &key {
            let wrong = sign(&format!("{k}!not-the-key"), &body);
            sent.push(self.client.send(Probe::WrongSignature, &check.endpoint_url, &body, &wrong).await);
            store::save_sent(db, id, &self.instance, &sent).await?;
        }

        // 3. One request per declared stage, each with its own token and callback.
        for stage in &stages {
            let task_result_id = random_id("taskrs");
            let token = secret::new_secret("rtc_");
            let (callback_url, plan_url, configuration_url) = urls(&task_result_id);
            let requested = Utc::now();
            store::add_stage(db, id, stage, &task_result_id, &secret::hash(&token), requested + limit, requested).await?;
            let body = rules::payload(&Run {
                stage,
                access_token: &token,
                callback_url: &callback_url,
                task_result_id: &task_result_id,
                run_id: &run_id,
                created_at: requested,
                plan_json_api_url: Some(&plan_url),
                configuration_version_download_url: Some(&configuration_url),
                app_url: &app_url,
            });
            let body = serde_json::to_vec(&body).map_err(|_| AppError::Internal)?;
            sent.push(self.client.send(Probe::Stage(stage.clone()), &check.endpoint_url, &body, &signature(&body)).await);
            store::save_sent(db, id, &self.instance, &sent).await?;
        }

        let done = Utc::now();
        store::await_callbacks(db, id, &self.instance, done + limit).await?;
        // The callbacks may all be in already.
        service::settle(db, id, &self.settings.limits, done).await?;
        Ok(())
    }

    /// Checks at once per instance: a slow endpoint does not hold up the others.
    const CONCURRENT: usize = 8;

    pub async fn run(self: Arc<Self>) {
        tracing::info!(instance = %self.instance, "run-task check runner started");
        let permits = Arc::new(tokio::sync::Semaphore::new(Self::CONCURRENT));
        let mut tick = tokio::time::interval(self.settings.tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            while let Ok(permit) = permits.clone().try_acquire_owned() {
                match self.claim(Utc::now()).await {
                    Ok(Some(claimed)) => {
                        let runner = self.clone();
                        tokio::spawn(async move {
                            if let Err(e) = runner.handle(claimed, Utc::now()).await {
                                tracing::warn!(error = %e, "a run-task check failed to run; its lease will run out and it ends as interrupted");
                            }
                            drop(permit);
                        });
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "could not claim a run-task check; trying again next tick");
                        break;
                    }
                }
            }
            if let Err(e) = self.sweep(Utc::now()).await {
                tracing::warn!(error = %e, "could not settle overdue run-task checks");
            }
        }
    }
}

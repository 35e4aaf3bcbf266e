//! The operator: deploys schemas through the public API, as a person would, for the simulated run and the live
//! run alike.

use super::reading::call_outside;
use crate::model::DeployRecord;
use crate::scenario::Scenario;
use crate::trace::{HarnessEvent, Recorder};
use madsim::time::Instant;
use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use system::net::{Endpoint, LinkShaper};
use system::proto::{DeployReply, DeploySchema};

/// One deploy attempt waits this long for its answer (a deploy lists and enqueues a whole environment).
const DEPLOY_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
/// Pause between a deploy's attempts.
const DEPLOY_RETRY_PAUSE: Duration = Duration::from_millis(200);
/// Attempts of one deploy at most (its deadline usually ends it first).
pub const DEPLOY_ATTEMPTS_MAX: u32 = 100;

/// Starts a schema deploy (environment, schema, new fields) in the background.
pub type Deployer = Arc<dyn Fn(String, String, Option<Vec<String>>) + Send + Sync>;

/// Starts a task where the operator's calls belong (the checker's node in a simulation; the runtime, live).
pub type Spawn = Arc<dyn Fn(Pin<Box<dyn Future<Output = ()> + Send>>) + Send + Sync>;

/// What the operator needs.
pub struct Operator {
    pub ingest: Vec<SocketAddr>,
    pub recorder: Arc<Recorder>,
    /// The name its records carry.
    pub node: Arc<str>,
    pub links: Arc<dyn LinkShaper>,
    pub scenario: Arc<Scenario>,
    pub ep: Endpoint,
    /// Deploys under way.
    pub running: Arc<AtomicU64>,
    /// Every deploy sent, with its answer.
    pub log: Arc<Mutex<Vec<DeployRecord>>>,
    /// Until when a deploy is retried.
    pub deadline: Arc<Mutex<Instant>>,
    pub run_start: Instant,
    pub spawn: Spawn,
}

/// The operator: deploys a schema through an ingest node in the background, retrying as an operator would until
/// it is answered, at most [`DEPLOY_ATTEMPTS_MAX`] times and never past the deploy deadline; records what was sent
/// and the version the reply named (none if never answered: the oracle reports it).
pub fn operator(o: Operator) -> Deployer {
    let Operator { ingest, recorder: rec, node, links, scenario, ep, running, log, deadline, run_start, spawn } = o;
    let schemas = scenario.schemas.clone();
    // Deploys without fields so far, per environment and schema (see below).
    let revisions: Arc<Mutex<BTreeMap<(String, String), u64>>> = Arc::default();
    Arc::new(move |env: String, schema: String, fields: Option<Vec<String>>| {
        // A deploy without fields is the schema's own fields and a new revision marker: a real change of the
        // schema, which re-processes the whole environment. (The system rightly treats a deploy of the fields
        // already deployed as done, and renders nothing again.)
        let fields = fields.unwrap_or_else(|| {
            let mut revisions = revisions.lock().expect("revisions lock");
            let n = revisions.entry((env.clone(), schema.clone())).or_insert(0);
            *n += 1;
            let mut fields = schemas.iter().find(|x| x.name == schema).map(|x| x.fields.clone()).unwrap_or_default();
            fields.push(format!("revision-{n}"));
            fields
        });
        let (ep, ingest, rec, node, running, log, links) =
            (ep.clone(), ingest.clone(), rec.clone(), node.clone(), running.clone(), log.clone(), links.clone());
        let deadline = *deadline.lock().expect("deploy deadline lock");
        running.fetch_add(1, Ordering::SeqCst);
        spawn(Box::pin(async move {
            let index = {
                let mut log = log.lock().expect("deploy log lock");
                log.push(DeployRecord {
                    env: env.clone(),
                    schema: schema.clone(),
                    fields: fields.clone(),
                    sent_at: run_start.elapsed(),
                    acked: None,
                    attempts: 0,
                    superseded: false,
                });
                log.len() - 1
            };
            rec.harness(&node, HarnessEvent::DeploySent { env: env.as_str().into(), schema: schema.as_str().into() });
            let mut attempts = 0u32;
            while attempts < DEPLOY_ATTEMPTS_MAX && Instant::now() < deadline {
                let dst = ingest[attempts as usize % ingest.len()];
                attempts += 1;
                log.lock().expect("deploy log lock")[index].attempts = attempts;
                // The deploy's id is its place in the run's log of deploys: the same on every retry of it.
                let req = DeploySchema {
                    env: env.as_str().into(),
                    name: schema.as_str().into(),
                    fields: fields.clone(),
                    request: index as u64 + 1,
                };
                let left = deadline.saturating_duration_since(Instant::now()).min(DEPLOY_ATTEMPT_TIMEOUT);
                match call_outside(&ep, &*links, dst, req, left).await {
                    Some(DeployReply::Deployed { version, jobs }) => {
                        let (env, schema) = (env.as_str().into(), schema.as_str().into());
                        rec.harness(&node, HarnessEvent::DeployDone { env, schema, version, jobs: jobs as u64 });
                        log.lock().expect("deploy log lock")[index].acked = Some((version, run_start.elapsed()));
                        break;
                    }
                    Some(DeployReply::Superseded { version }) => {
                        let (env, schema) = (env.as_str().into(), schema.as_str().into());
                        rec.harness(&node, HarnessEvent::DeploySuperseded { env, schema, version });
                        let mut log = log.lock().expect("deploy log lock");
                        log[index].acked = Some((version, run_start.elapsed()));
                        log[index].superseded = true;
                        break;
                    }
                    _ => {}
                }
                madsim::time::sleep(DEPLOY_RETRY_PAUSE).await;
            }
            log.lock().expect("deploy log lock")[index].attempts = attempts;
            running.fetch_sub(1, Ordering::SeqCst);
        }));
    })
}

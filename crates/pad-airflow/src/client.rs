//! `Client`: Airflow's REST API as the admin user, over plain HTTP with `ureq`:
//! `/api/v1` with basic auth on 2.10 (the FAB auth backend `up` turns on), `/api/v2`
//! with a token from the simple auth manager's `/auth/token` on 3.x. Also the
//! unauthenticated health checks.

use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;

use crate::{AirflowError, Series};

/// Every request gives up after this long.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Airflow's REST API, logged in. Its `Debug` leaves the credentials out.
#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
    /// `http://127.0.0.1:<port>`.
    base: String,
    api: &'static str,
    authorization: String,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("base", &self.base).field("api", &self.api).finish_non_exhaustive()
    }
}

pub(crate) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(TIMEOUT))
        .user_agent(concat!("pad-airflow/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

impl Client {
    /// Logs in at `base` as `user`.
    pub fn login(base: &str, series: &Series, user: &str, password: &str) -> Result<Client, AirflowError> {
        let agent = agent();
        let base = base.trim_end_matches('/').to_owned();
        if series.is_v2() {
            let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            return Ok(Client { agent, base, api: "/api/v1", authorization: format!("Basic {basic}") });
        }
        let url = format!("{base}/auth/token");
        let body = serde_json::json!({"username": user, "password": password}).to_string();
        let response = agent.post(&url).header("Content-Type", "application/json").send(body.as_str());
        let value = read(response, "POST", &url)?;
        let token = value.get("access_token").and_then(Value::as_str).ok_or_else(|| AirflowError::Http {
            method: "POST",
            url: url.clone(),
            message: "the answer holds no access_token".to_owned(),
        })?;
        Ok(Client { agent, base, api: "/api/v2", authorization: format!("Bearer {token}") })
    }

    /// `/api/v1` or `/api/v2`.
    pub fn api_prefix(&self) -> &'static str {
        self.api
    }

    /// GETs `path` under the API prefix (`/dags`), as JSON.
    pub fn get(&self, path: &str) -> Result<Value, AirflowError> {
        let url = format!("{}{}{path}", self.base, self.api);
        read(self.agent.get(&url).header("Authorization", &self.authorization).call(), "GET", &url)
    }

    /// POSTs `body` to `path` under the API prefix.
    pub fn post(&self, path: &str, body: &Value) -> Result<Value, AirflowError> {
        self.send("POST", path, body)
    }

    /// PATCHes `path` under the API prefix with `body`.
    pub fn patch(&self, path: &str, body: &Value) -> Result<Value, AirflowError> {
        self.send("PATCH", path, body)
    }

    /// `body` as JSON to `path` under the API prefix with `method` (POST or PATCH).
    fn send(&self, method: &'static str, path: &str, body: &Value) -> Result<Value, AirflowError> {
        let url = format!("{}{}{path}", self.base, self.api);
        let request = if method == "PATCH" { self.agent.patch(&url) } else { self.agent.post(&url) };
        let response = request
            .header("Authorization", &self.authorization)
            .header("Content-Type", "application/json")
            .send(body.to_string().as_str());
        read(response, method, &url)
    }
}

/// A GET without credentials: the status and the body, or `None` when nothing answers.
pub(crate) fn probe(agent: &ureq::Agent, url: &str) -> Option<(u16, String)> {
    let mut response = agent.get(url).call().ok()?;
    let status = response.status().as_u16();
    let body = response.body_mut().with_config().limit(1024 * 1024).read_to_string().unwrap_or_default();
    Some((status, body))
}

fn read(
    response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    method: &'static str,
    url: &str,
) -> Result<Value, AirflowError> {
    let http = |message: String| AirflowError::Http { method, url: url.to_owned(), message };
    let mut response = response.map_err(|err| http(err.to_string()))?;
    let status = response.status().as_u16();
    let text =
        response.body_mut().with_config().limit(16 * 1024 * 1024).read_to_string().map_err(|e| http(e.to_string()))?;
    if !(200..300).contains(&status) {
        let cut: String = text.chars().take(500).collect();
        return Err(http(format!("HTTP {status}: {cut}")));
    }
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(&text)
        .map_err(|err| http(format!("not JSON ({err}): {}", text.chars().take(200).collect::<String>())))
}

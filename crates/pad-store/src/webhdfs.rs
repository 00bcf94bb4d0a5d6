//! WebHDFS by hand, the two requests OpenDAL 0.59's WebHDFS service does not serve here;
//! stat, read, delete and the small checksum object go through OpenDAL.
//!
//! - `CREATE`, the two-step way the REST API documents (the namenode answers 307 with
//!   the datanode to send the data to), with the body streamed to the datanode (see
//!   [`crate::put`]): OpenDAL's writer holds a whole object in memory unless it writes
//!   blocks and `CONCAT`s them.
//! - `RENAME` into place: OpenDAL's WebHDFS service has no rename.

use opendal::services;

use crate::backend::Webhdfs;
use crate::webdav::status_error;
use crate::{Problem, StoreError, http};

/// A directory in HDFS, as the requests by hand reach it.
pub(crate) struct Hdfs {
    endpoint: String,
    root: String,
    /// `&user.name=…&delegation=…`, percent-encoded; it may hold a secret.
    query: String,
    /// `webhdfs://namenode:port/root`, for people.
    shown: String,
}

impl Hdfs {
    /// The directory, and the OpenDAL service for what it serves.
    pub(crate) fn new(webhdfs: Webhdfs) -> (Hdfs, services::Webhdfs) {
        let endpoint = webhdfs.endpoint.trim_end_matches('/').to_owned();
        let root = format!("/{}", webhdfs.root.trim_matches('/'));
        let mut builder = services::Webhdfs::default().endpoint(&endpoint).root(&root);
        let mut query = String::new();
        if let Some(user) = &webhdfs.user_name {
            builder = builder.user_name(user);
            query.push_str(&format!("&user.name={}", http::encode_segment(user)));
        }
        if let Some(token) = &webhdfs.delegation {
            builder = builder.delegation(token.expose());
            query.push_str(&format!("&delegation={}", http::encode_segment(token.expose())));
        }
        let rest = endpoint.find("://").map_or(endpoint.as_str(), |i| &endpoint[i + 3..]);
        let authority = rest.split('/').next().unwrap_or(rest);
        let shown = format!("webhdfs://{authority}{root}");
        (Hdfs { endpoint, root, query, shown }, builder)
    }

    pub(crate) fn location(&self, key: &str) -> String {
        format!("{}/{key}", self.shown.trim_end_matches('/'))
    }

    /// The REST URL of a path under the root.
    fn url(&self, key: &str) -> String {
        let path = format!("{}/{key}", self.root.trim_end_matches('/'));
        let encoded: Vec<String> = path.split('/').filter(|s| !s.is_empty()).map(http::encode_segment).collect();
        format!("{}/webhdfs/v1/{}", self.endpoint, encoded.join("/"))
    }

    /// A `PUT` without a body, as the namenode's operations are.
    fn operation(
        &self,
        agent: &ureq::Agent,
        action: &'static str,
        url: &str,
        key: &str,
    ) -> Result<ureq::http::Response<ureq::Body>, StoreError> {
        let request = agent.put(url).header("Content-Length", "0");
        request.send_empty().map_err(|err| StoreError::new(action, self.location(key), Problem::Transport(err)))
    }

    /// Step one of `CREATE` (overwriting): the datanode URL to `PUT` the data to.
    pub(crate) fn create(&self, agent: &ureq::Agent, key: &str) -> Result<String, StoreError> {
        let url = format!("{}?op=CREATE&overwrite=true{}", self.url(key), self.query);
        let mut response = self.operation(agent, "create", &url, key)?;
        let status = response.status().as_u16();
        if !matches!(status, 301 | 302 | 303 | 307 | 308) {
            return Err(status_error("create", self.location(key), &mut response, None));
        }
        let location = response.headers().get("Location").and_then(|v| v.to_str().ok());
        location.map(|l| http::resolve_location(&url, l)).ok_or_else(|| {
            let problem = Problem::Protocol(format!("the namenode answered {status} without a Location"));
            StoreError::new("create", self.location(key), problem)
        })
    }

    /// Renames `from` to `to`, which must not exist (HDFS does not rename over a file).
    pub(crate) fn rename(&self, agent: &ureq::Agent, from: &str, to: &str) -> Result<(), StoreError> {
        let destination = format!("{}/{to}", self.root.trim_end_matches('/'));
        let url = format!(
            "{}?op=RENAME&destination={}{}",
            self.url(from),
            destination.split('/').map(http::encode_segment).collect::<Vec<_>>().join("/"),
            self.query
        );
        let mut response = self.operation(agent, "rename", &url, to)?;
        if response.status().as_u16() != 200 {
            return Err(status_error("rename", self.location(to), &mut response, None));
        }
        let text = response.body_mut().with_config().limit(64 * 1024).read_to_string().unwrap_or_default();
        let renamed = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("boolean").and_then(serde_json::Value::as_bool));
        if renamed == Some(true) {
            return Ok(());
        }
        let problem = Problem::Protocol(format!(
            "the namenode did not rename {} (it answered {})",
            self.location(from),
            crate::quote(&text)
        ));
        Err(StoreError::new("rename", self.location(to), problem))
    }
}

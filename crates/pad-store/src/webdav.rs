//! WebDAV by hand, the requests OpenDAL 0.59's WebDAV service does not serve here; the
//! rest (reading objects, writing the small checksum object) goes through OpenDAL.
//!
//! - Stat is `HEAD`: OpenDAL stats with `PROPFIND`, which plain nginx lacks (its
//!   `dav_methods` has no `PROPFIND`), and so do servers that only store a `PUT`.
//! - Uploads are one streamed `PUT` (see [`crate::put`]): OpenDAL's WebDAV writer
//!   collects the whole object in memory for one `PUT`.
//! - `MKCOL` of the parent collections, from the top, best effort: OpenDAL checks each
//!   with `PROPFIND` first.
//! - `MOVE` into place: OpenDAL's rename stats the source with `PROPFIND` first.
//! - `DELETE`: OpenDAL takes only 204 and 404 as done, where RFC 4918 allows any 2xx
//!   (and a 410 is as gone as a 404).

use opendal::services;

use crate::backend::Webdav;
use crate::store::{Stat, basic_auth_header};
use crate::{Problem, Secret, StoreError, http};

/// What the server lacks when it answers 405 or 501.
const METHODS_HINT: &str = "the server lacks this method: a WebDAV store needs PUT, DELETE, MKCOL and MOVE (nginx: `dav_methods PUT DELETE MKCOL COPY MOVE;`)";

/// A WebDAV collection, as the requests by hand reach it.
pub(crate) struct Dav {
    url: String,
    /// The `Authorization` header.
    auth: Option<Secret>,
    pub(crate) move_into_place: bool,
}

impl Dav {
    /// The collection, and the OpenDAL service for what it serves.
    pub(crate) fn new(webdav: Webdav) -> (Dav, services::Webdav) {
        let (endpoint, root) = split_url(&webdav.url);
        // Collections are made by hand, without PROPFIND (see the module).
        let mut builder = services::Webdav::default()
            .endpoint(endpoint)
            .root(if root.is_empty() { "/" } else { root })
            .disable_create_dir(true);
        let mut auth = None;
        if let Some(basic) = &webdav.auth {
            builder = builder.username(&basic.username).password(basic.password.expose());
            auth = Some(basic_auth_header(&basic.username, &basic.password));
        }
        (Dav { url: webdav.url, auth, move_into_place: webdav.move_into_place }, builder)
    }

    pub(crate) fn location(&self, key: &str) -> String {
        http::redact_userinfo(&self.url_of(key))
    }

    /// The URL of `key`, each segment percent-encoded.
    fn url_of(&self, key: &str) -> String {
        http::join_path(&self.url, key)
    }

    pub(crate) fn request(&self, method: &str, key: &str) -> ureq::http::request::Builder {
        self.request_url(method, &self.url_of(key))
    }

    fn request_url(&self, method: &str, url: &str) -> ureq::http::request::Builder {
        let mut request = ureq::http::Request::builder().method(method).uri(url);
        if let Some(auth) = &self.auth {
            request = request.header("Authorization", auth.expose());
        }
        request
    }

    fn send(
        &self,
        agent: &ureq::Agent,
        request: ureq::http::request::Builder,
    ) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
        agent.run(request.body(()).map_err(ureq::Error::Http)?)
    }

    pub(crate) fn head(&self, agent: &ureq::Agent, key: &str) -> Result<Option<Stat>, StoreError> {
        let mut response =
            self.send(agent, self.request("HEAD", key)).map_err(|err| self.transport("stat", key, err))?;
        match response.status().as_u16() {
            200..=299 => Ok(Some(Stat { size: response.body().content_length() })),
            404 | 410 => Ok(None),
            _ => Err(self.status("stat", key, &mut response)),
        }
    }

    pub(crate) fn delete(&self, agent: &ureq::Agent, key: &str) -> Result<(), StoreError> {
        let mut response =
            self.send(agent, self.request("DELETE", key)).map_err(|err| self.transport("delete", key, err))?;
        match response.status().as_u16() {
            200..=299 | 404 | 410 => Ok(()),
            _ => Err(self.status("delete", key, &mut response)),
        }
    }

    /// `MKCOL` for every parent collection of `key`, from the top, as WebDAV requires
    /// before a `PUT` (nginx answers 409 without `create_full_put_path`, Apache too).
    /// Best effort: 405 means it exists, and servers that make paths on `PUT` (nginx
    /// with `create_full_put_path`, Artifactory, Nexus) may refuse `MKCOL` altogether;
    /// the request that follows reports what matters.
    pub(crate) fn mkcol_parents(&self, agent: &ureq::Agent, key: &str) {
        let parts: Vec<&str> = key.split('/').collect();
        for depth in 1..parts.len() {
            let url = format!("{}/", self.url_of(&parts[..depth].join("/")));
            let status = self.send(agent, self.request_url("MKCOL", &url)).map(|r| r.status().as_u16());
            tracing::debug!(url = http::redact_userinfo(&url), ?status, "MKCOL");
        }
    }

    /// Moves a finished upload over `to`.
    pub(crate) fn move_to(&self, agent: &ureq::Agent, from: &str, to: &str) -> Result<(), StoreError> {
        self.mkcol_parents(agent, to);
        let request = self.request("MOVE", from).header("Destination", self.url_of(to)).header("Overwrite", "T");
        let mut response = self.send(agent, request).map_err(|err| self.transport("move", to, err))?;
        match response.status().as_u16() {
            200..=299 => Ok(()),
            _ => Err(self.status("move", to, &mut response)),
        }
    }

    pub(crate) fn transport(&self, action: &'static str, key: &str, err: ureq::Error) -> StoreError {
        StoreError::new(action, self.location(key), Problem::Transport(err))
    }

    pub(crate) fn status(
        &self,
        action: &'static str,
        key: &str,
        response: &mut ureq::http::Response<ureq::Body>,
    ) -> StoreError {
        let hint = matches!(response.status().as_u16(), 405 | 501).then_some(METHODS_HINT);
        status_error(action, self.location(key), response, hint)
    }
}

/// An error status of a request made by hand: 401 and 403 are [`Problem::Denied`].
pub(crate) fn status_error(
    action: &'static str,
    location: String,
    response: &mut ureq::http::Response<ureq::Body>,
    hint: Option<&str>,
) -> StoreError {
    let status = response.status().as_u16();
    let mut message = http::error_message(response);
    if let Some(hint) = hint {
        message = format!("{message}; {hint}");
    }
    let problem = match status {
        401 | 403 => Problem::Denied { detail: format!("{status}: {message}") },
        _ => Problem::Status { status, message },
    };
    StoreError::new(action, location, problem)
}

/// `scheme://authority` and the path of an `http(s)://` URL.
fn split_url(url: &str) -> (&str, &str) {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(i) => url.split_at(after_scheme + i),
        None => (url, ""),
    }
}

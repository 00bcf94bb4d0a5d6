//! GitLab's generic packages API over `ureq`: `PUT` and `GET` on
//! `{api}/projects/{id}/packages/generic/{name}/{version}/{file}`, and the packages API
//! (`/packages`, `/packages/:id/package_files`) to learn a published file's sha256.
//!
//! Every request carries exactly one of `PRIVATE-TOKEN`, `JOB-TOKEN` or `DEPLOY-TOKEN`.
//! Redirects are followed by hand so the token never goes to another host (GitLab
//! redirects downloads to object storage when direct download is on).
//!
//! How a published file's sha256 is learned, by GitLab version and token kind:
//! - GitLab 18.6 and later send it with every generic package download in
//!   `X-Checksum-SHA256` (gitlab-org/gitlab!210599), unless the download is redirected to
//!   object storage.
//! - The packages API's package files list has `file_sha256` on every version
//!   (<https://docs.gitlab.com/api/packages/#list-package-files>); personal, project and
//!   group access tokens and CI job tokens may read it, deploy tokens may not ("Deploy
//!   tokens can't be used with the GitLab public API").
//! - So that a deploy token can verify on any version, `publish` also uploads
//!   `<file>.sha256` (`<hex>  <file>`, as `sha256sum` writes it) into the same package
//!   version, after the file, as the generic stores do.

use std::fs::File;

use camino::Utf8Path;
use serde::Deserialize;
use ureq::Body;
use ureq::http::Response;

use crate::http::{self, Secret, error_message, join_segments, origin, resolve_location, transport, with_retries};
use crate::{Fetched, RegistryError, TransferProgress};
use pad_store::checksum::{HashingReader, is_sha256_hex, parse_sha256, sidecar, sidecar_text};
use pad_store::{Download, StoreError};

/// The header that carries a deploy token.
pub(crate) const DEPLOY_TOKEN: &str = "DEPLOY-TOKEN";

/// The checksum header of generic package downloads.
const CHECKSUM_HEADER: &str = "X-Checksum-SHA256";

/// The token a request authenticates with.
#[derive(Debug, Clone)]
pub(crate) struct Auth {
    /// `PRIVATE-TOKEN`, `JOB-TOKEN` or `DEPLOY-TOKEN`.
    pub(crate) header: &'static str,
    /// The environment variable it came from, for error messages.
    pub(crate) variable: String,
    pub(crate) token: Secret,
}

#[derive(Debug)]
pub(crate) struct GitLab {
    registry: String,
    api: String,
    project: String,
    auth: Auth,
    agent: ureq::Agent,
}

/// A file already in the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RemoteFile {
    pub(crate) sha256: String,
    /// `(package id, package file id)` of every file of that name and of its
    /// `<file>.sha256`, when the packages API told us (needed to delete them).
    pub(crate) ids: Vec<(u64, u64)>,
}

#[derive(Deserialize)]
struct PackageEntry {
    id: u64,
    name: String,
    version: String,
    #[serde(default)]
    package_type: Option<String>,
}

#[derive(Deserialize)]
struct PackageFileEntry {
    id: u64,
    file_name: String,
    #[serde(default)]
    file_sha256: Option<String>,
}

/// What an upload with `select=package_file` returns.
#[derive(Deserialize)]
struct UploadedFile {
    #[serde(default)]
    file_sha256: Option<String>,
}

/// What a request was for, to say what a 403 forbids.
#[derive(Clone, Copy)]
enum Action {
    Read,
    Upload,
    Delete,
}

impl GitLab {
    pub(crate) fn new(registry: &str, api: String, project: String, auth: Auth) -> GitLab {
        GitLab {
            registry: registry.to_owned(),
            api: api.trim_end_matches('/').to_owned(),
            project,
            auth,
            agent: http::agent(),
        }
    }

    pub(crate) fn file_url(&self, package: &str, version: &str, file: &str) -> String {
        join_segments(&self.api, &["projects", &self.project, "packages", "generic", package, version, file])
    }

    fn project_url(&self, rest: &[&str]) -> String {
        let mut segments = vec!["projects", self.project.as_str()];
        segments.extend_from_slice(rest);
        join_segments(&self.api, &segments)
    }

    /// Whether the token is a deploy token, which the packages API does not accept (it
    /// counts as no token there): such a token learns about files from the generic
    /// packages API alone.
    fn deploy_token(&self) -> bool {
        self.auth.header == DEPLOY_TOKEN
    }

    /// The sha256 of the newest file of that name in the package version, if any.
    pub(crate) fn exists(&self, package: &str, version: &str, file: &str) -> Result<Option<RemoteFile>, RegistryError> {
        if self.deploy_token() {
            return self.probe_download(package, version, file);
        }
        let query = format!(
            "?package_type=generic&package_name={}&package_version={}&per_page=100",
            http::encode_segment(package),
            http::encode_segment(version)
        );
        let list_url = format!("{}{query}", self.project_url(&["packages"]));
        let packages: Vec<PackageEntry> = match self.get_json_pages(&list_url)? {
            Listing::Items(items) => items,
            // A token that may use the generic packages API but not this one.
            Listing::Forbidden => return self.probe_download(package, version, file),
        };
        let mut found: Vec<(u64, PackageFileEntry)> = Vec::new();
        for entry in packages.into_iter().filter(|p| {
            p.name == package && p.version == version && p.package_type.as_deref().is_none_or(|t| t == "generic")
        }) {
            let id = entry.id.to_string();
            let files_url = format!("{}?per_page=100", self.project_url(&["packages", &id, "package_files"]));
            let files: Vec<PackageFileEntry> = match self.get_json_pages(&files_url)? {
                Listing::Items(items) => items,
                Listing::Forbidden => return self.probe_download(package, version, file),
            };
            let checksum_name = sidecar(file);
            found.extend(
                files
                    .into_iter()
                    .filter(|f| f.file_name == file || f.file_name == checksum_name)
                    .map(|f| (entry.id, f)),
            );
        }
        // Downloads serve the newest file of a name; ids grow with time.
        let Some((_, newest)) = found.iter().filter(|(_, f)| f.file_name == file).max_by_key(|(_, f)| f.id) else {
            return Ok(None);
        };
        let sha256 = match &newest.file_sha256 {
            Some(sha) if is_sha256_hex(sha) => sha.to_ascii_lowercase(),
            _ => {
                return Err(RegistryError::Protocol {
                    registry: self.registry.clone(),
                    url: self.project_url(&["packages", &found[0].0.to_string(), "package_files"]),
                    detail: format!("package file {} of `{file}` has no sha256", newest.id),
                });
            }
        };
        Ok(Some(RemoteFile { sha256, ids: found.iter().map(|(p, f)| (*p, f.id)).collect() }))
    }

    /// `exists` through the generic packages API: a download's `X-Checksum-SHA256`
    /// header (the body is not read); without it (GitLab before 18.6, or a redirect to
    /// object storage), the `<file>.sha256` published beside it; and only for a file
    /// published without one, the sha256 of the body, streamed and thrown away.
    fn probe_download(&self, package: &str, version: &str, file: &str) -> Result<Option<RemoteFile>, RegistryError> {
        let url = self.file_url(package, version, file);
        let (mut response, checksum, attempts) = self.get_following(&url)?;
        let status = response.status().as_u16();
        if status == 404 {
            let message = error_message(&mut response);
            if message.contains("Project") {
                return Err(self.not_found(&url, message));
            }
            return Ok(None);
        }
        if status != 200 {
            return Err(self.status_error(&url, response, attempts, Action::Read));
        }
        let sha256 =
            match checksum {
                Some(sha256) => sha256,
                None => match self.published_checksum(package, version, file)? {
                    Some(sha256) => sha256,
                    None => {
                        tracing::debug!(
                            registry = self.registry,
                            url,
                            "no checksum header and no .sha256: hashing the file"
                        );
                        let mut reader = HashingReader::new(response.body_mut().as_reader(), &());
                        std::io::copy(&mut reader, &mut std::io::sink()).map_err(|source| {
                            RegistryError::TransferIo { registry: self.registry.clone(), url: url.clone(), source }
                        })?;
                        reader.finish().0
                    }
                },
            };
        Ok(Some(RemoteFile { sha256, ids: Vec::new() }))
    }

    /// The sha256 in the `<file>.sha256` beside a file, if there is one.
    fn published_checksum(&self, package: &str, version: &str, file: &str) -> Result<Option<String>, RegistryError> {
        let name = sidecar(file);
        let url = self.file_url(package, version, &name);
        let (mut response, _, attempts) = self.get_following(&url)?;
        match response.status().as_u16() {
            200 => {}
            404 => return Ok(None),
            _ => return Err(self.status_error(&url, response, attempts, Action::Read)),
        }
        let text = response.body_mut().with_config().limit(4096).read_to_string().map_err(|err| {
            RegistryError::Protocol { registry: self.registry.clone(), url: url.clone(), detail: err.to_string() }
        })?;
        match parse_sha256(&text) {
            Some(sha256) => Ok(Some(sha256)),
            None => Err(RegistryError::Protocol {
                registry: self.registry.clone(),
                url,
                detail: format!("`{name}` does not hold a sha256: publish the version again with --force"),
            }),
        }
    }

    /// Uploads `<file>.sha256` beside a file just uploaded (see the module's doc).
    pub(crate) fn upload_checksum(&self, url: &str, file: &str, sha256: &str) -> Result<(), RegistryError> {
        let url = sidecar(url);
        let text = sidecar_text(sha256, file);
        let (response, attempts) = with_retries(&self.registry, &url, |_| {
            self.agent
                .put(&url)
                .header(self.auth.header, self.auth.token.expose())
                .header("Content-Type", "text/plain")
                .send(text.as_bytes())
                .map_err(|err| transport(&self.registry, &url, err))
        })?;
        if !response.status().is_success() {
            return Err(self.status_error(&url, response, attempts, Action::Upload));
        }
        Ok(())
    }

    /// Uploads `path` (of known sha256 and size), retrying server errors; checks the
    /// sha256 GitLab computed against ours.
    pub(crate) fn upload(
        &self,
        path: &Utf8Path,
        url: &str,
        sha256: &str,
        size: u64,
        progress: &dyn TransferProgress,
    ) -> Result<(), RegistryError> {
        let put_url = format!("{url}?select=package_file");
        let mut sent: Option<(String, u64)> = None;
        let (mut response, attempts) = with_retries(&self.registry, url, |_| {
            let file = File::open(path).map_err(|source| RegistryError::ReadLocal { path: path.to_owned(), source })?;
            progress.start(Some(size));
            let mut reader = HashingReader::new(file, progress);
            let result = self
                .agent
                .put(&put_url)
                .header(self.auth.header, self.auth.token.expose())
                .header("Content-Length", size.to_string())
                .header("Content-Type", "application/octet-stream")
                .send(ureq::SendBody::from_reader(&mut reader));
            sent = Some(reader.finish());
            result.map_err(|err| transport(&self.registry, url, err))
        })?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(self.status_error(url, response, attempts, Action::Upload));
        }
        if let Some((sent_sha, _)) = &sent
            && sent_sha != sha256
        {
            return Err(RegistryError::LocalFileChanged {
                path: path.to_owned(),
                before: sha256.to_owned(),
                after: sent_sha.clone(),
            });
        }
        let text = response.body_mut().with_config().limit(1024 * 1024).read_to_string().unwrap_or_default();
        match serde_json::from_str::<UploadedFile>(&text).ok().and_then(|f| f.file_sha256) {
            Some(remote) if !remote.eq_ignore_ascii_case(sha256) => Err(RegistryError::UploadMismatch {
                registry: self.registry.clone(),
                location: url.to_owned(),
                remote,
                local: sha256.to_owned(),
            }),
            Some(_) => Ok(()),
            None => {
                tracing::debug!(registry = self.registry, url, "the upload response has no file_sha256");
                Ok(())
            }
        }
    }

    /// Deletes package files (to replace a file with `--force`).
    pub(crate) fn delete(&self, ids: &[(u64, u64)]) -> Result<(), RegistryError> {
        for (package_id, file_id) in ids {
            let (package_id, file_id) = (package_id.to_string(), file_id.to_string());
            let url = self.project_url(&["packages", &package_id, "package_files", &file_id]);
            let (response, attempts) = with_retries(&self.registry, &url, |_| {
                self.agent
                    .delete(&url)
                    .header(self.auth.header, self.auth.token.expose())
                    .call()
                    .map_err(|err| transport(&self.registry, &url, err))
            })?;
            let status = response.status().as_u16();
            if !(200..300).contains(&status) && status != 404 {
                return Err(self.status_error(&url, response, attempts, Action::Delete));
            }
        }
        Ok(())
    }

    /// Downloads a file into `dest_dir`, checked against the `X-Checksum-SHA256` header;
    /// without it (GitLab before 18.6, or a redirect to object storage), against the
    /// packages API's `file_sha256`, or for a deploy token, which may not read that API,
    /// the `<file>.sha256` published beside it.
    pub(crate) fn fetch(
        &self,
        package: &str,
        version: &str,
        file: &str,
        dest_dir: &Utf8Path,
        progress: &dyn TransferProgress,
    ) -> Result<Fetched, RegistryError> {
        let url = self.file_url(package, version, file);
        let not_published = || RegistryError::NotPublished {
            registry: self.registry.clone(),
            package: package.to_owned(),
            version: version.to_owned(),
            file: file.to_owned(),
            location: url.clone(),
        };
        let (mut response, mut header_sha) = self.open_download(&url, &not_published)?;
        // A deploy token learns the sha256 before the download, so nothing is
        // transferred that cannot be verified.
        let mut sidecar_sha = None;
        if header_sha.is_none() && self.deploy_token() {
            sidecar_sha = self.published_checksum(package, version, file)?;
            if sidecar_sha.is_none() {
                return Err(RegistryError::Protocol {
                    registry: self.registry.clone(),
                    url,
                    detail: format!(
                        "the download came without its {CHECKSUM_HEADER} header (GitLab before 18.6, or object storage direct download), there is no `{}` beside it, and a deploy token may not ask the packages API for the sha256: fetch with an access token or a job token, or publish the version again with this toolchain (it uploads the `.sha256`)",
                        sidecar(file)
                    ),
                });
            }
        }
        let mut download = Download::start(dest_dir, file, progress).map_err(|err| self.local(err))?;
        let mut attempt = 1;
        loop {
            progress.start(response.body().content_length());
            match download.copy_from(&mut response.body_mut().as_reader(), &url) {
                Ok(()) => break,
                // The connection broke mid-body: start the download over.
                Err(err) if err.is_transient() && attempt < http::ATTEMPTS => {
                    std::thread::sleep(http::backoff(attempt));
                    attempt += 1;
                    download.restart().map_err(|err| self.local(err))?;
                    (response, header_sha) = self.open_download(&url, &not_published)?;
                }
                Err(err) => return Err(self.local(err)),
            }
        }
        let expected = match header_sha.or(sidecar_sha) {
            Some(sha) => sha,
            None => match self.exists(package, version, file)? {
                Some(remote) => remote.sha256,
                None => {
                    return Err(RegistryError::Protocol {
                        registry: self.registry.clone(),
                        url,
                        detail: format!(
                            "the download has no {CHECKSUM_HEADER} header and the packages API lists no such file, so it cannot be verified"
                        ),
                    });
                }
            },
        };
        download.finish(&url, &expected).map_err(|err| self.local(err))
    }

    /// An error of the local end of a download.
    fn local(&self, err: StoreError) -> RegistryError {
        RegistryError::from_store(&self.registry, &self.auth.variable, err)
    }

    /// A download's response (200) and the checksum header it came with.
    fn open_download(
        &self,
        url: &str,
        not_published: &dyn Fn() -> RegistryError,
    ) -> Result<(Response<Body>, Option<String>), RegistryError> {
        let (mut response, header_sha, attempts) = self.get_following(url)?;
        match response.status().as_u16() {
            200 => Ok((response, header_sha)),
            404 => {
                let message = error_message(&mut response);
                if message.contains("Project") {
                    return Err(self.not_found(url, message));
                }
                Err(not_published())
            }
            _ => Err(self.status_error(url, response, attempts, Action::Read)),
        }
    }

    /// A `GET` with retries that follows redirects by hand: the token goes only to the
    /// API's own origin. Returns the final response, the checksum header of any hop, and
    /// the attempts made.
    fn get_following(&self, url: &str) -> Result<(Response<Body>, Option<String>, u32), RegistryError> {
        let api_origin = origin(url);
        let mut target = url.to_owned();
        let mut checksum = None;
        for _ in 0..=http::MAX_REDIRECTS {
            let (response, attempts) = with_retries(&self.registry, url, |_| {
                let mut request = self.agent.get(&target);
                if origin(&target) == api_origin {
                    request = request.header(self.auth.header, self.auth.token.expose());
                }
                request.call().map_err(|err| transport(&self.registry, url, err))
            })?;
            if let Some(sha) = response
                .headers()
                .get(CHECKSUM_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| is_sha256_hex(v))
            {
                checksum = Some(sha.to_ascii_lowercase());
            }
            let location = response.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_owned);
            match (response.status().is_redirection(), location) {
                (true, Some(location)) => target = resolve_location(&target, &location),
                _ => return Ok((response, checksum, attempts)),
            }
        }
        Err(RegistryError::Protocol {
            registry: self.registry.clone(),
            url: url.to_owned(),
            detail: format!("more than {} redirects", http::MAX_REDIRECTS),
        })
    }

    /// Every item of a paginated JSON list (`X-Next-Page`), or `Forbidden` on 403.
    fn get_json_pages<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<Listing<T>, RegistryError> {
        let mut items = Vec::new();
        let mut page_url = url.to_owned();
        // A generous bound: one package version has a handful of files.
        for _ in 0..50 {
            let (mut response, attempts) = with_retries(&self.registry, url, |_| {
                self.agent
                    .get(&page_url)
                    .header(self.auth.header, self.auth.token.expose())
                    .header("Accept", "application/json")
                    .call()
                    .map_err(|err| transport(&self.registry, url, err))
            })?;
            let status = response.status().as_u16();
            match status {
                200 => {}
                403 => return Ok(Listing::Forbidden),
                404 => {
                    let message = error_message(&mut response);
                    if message.contains("Project") {
                        return Err(self.not_found(url, message));
                    }
                    // A package that is gone between the two calls.
                    return Ok(Listing::Items(items));
                }
                _ => return Err(self.status_error(url, response, attempts, Action::Read)),
            }
            let next = response
                .headers()
                .get("x-next-page")
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned);
            let text = response.body_mut().with_config().limit(16 * 1024 * 1024).read_to_string().map_err(|err| {
                RegistryError::Protocol {
                    registry: self.registry.clone(),
                    url: url.to_owned(),
                    detail: err.to_string(),
                }
            })?;
            let page: Vec<T> = serde_json::from_str(&text).map_err(|err| RegistryError::Protocol {
                registry: self.registry.clone(),
                url: url.to_owned(),
                detail: format!("not the JSON list the packages API returns: {err}"),
            })?;
            items.extend(page);
            match next {
                Some(next) => page_url = format!("{url}&page={}", http::encode_segment(&next)),
                None => return Ok(Listing::Items(items)),
            }
        }
        Ok(Listing::Items(items))
    }

    fn not_found(&self, url: &str, message: String) -> RegistryError {
        RegistryError::NotFound {
            registry: self.registry.clone(),
            url: url.to_owned(),
            message,
            variable: self.auth.variable.clone(),
        }
    }

    /// The error for a response that is not a success.
    fn status_error(&self, url: &str, mut response: Response<Body>, attempts: u32, action: Action) -> RegistryError {
        let status = response.status().as_u16();
        let message = error_message(&mut response);
        let registry = self.registry.clone();
        let url = url.to_owned();
        let variable = self.auth.variable.clone();
        match status {
            400 if message.contains("Duplicate") => RegistryError::Duplicate { registry, url, message },
            400 if message.contains("too large") => RegistryError::TooLarge { registry, url, message },
            400 => RegistryError::BadRequest { registry, url, message },
            401 => RegistryError::Unauthorized { registry, url, variable },
            403 => {
                let (action, fix) = match action {
                    Action::Read => (
                        "read",
                        "use a token that can read the project's package registry (scope `read_api` or `api`, or a deploy token with `read_package_registry`), and check that the package registry is enabled",
                    ),
                    Action::Upload => (
                        "publish to",
                        "use a token with the `api` scope and at least the Developer role (or a deploy token with `write_package_registry`), and check that the package is not protected",
                    ),
                    Action::Delete if self.auth.header == "JOB-TOKEN" => (
                        "delete from",
                        "replacing a published file (--force) deletes the old one, which needs the Maintainer role, and a CI job token has the role of the user who started the pipeline: run the pipeline as a Maintainer, publish with a Maintainer's access token in GITLAB_TOKEN, or delete the file in GitLab (Deploy > Package registry) and publish without --force",
                    ),
                    Action::Delete => (
                        "delete from",
                        "replacing a published file (--force) deletes the old one, which needs the Maintainer role: use a Maintainer's access token, or delete the file in GitLab (Deploy > Package registry) and publish without --force",
                    ),
                };
                let hint = format!("the credentials from `{variable}` may not {action} it: {fix}");
                RegistryError::Forbidden { registry, url, message, hint }
            }
            404 => RegistryError::NotFound { registry, url, message, variable },
            _ => RegistryError::Server { registry, url, status, attempts, message },
        }
    }
}

enum Listing<T> {
    Items(Vec<T>),
    Forbidden,
}

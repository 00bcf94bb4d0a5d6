//! Writing an object: [`Store::put`] starts a [`Put`], which takes the bytes a chunk at a
//! time and, on [`Put::commit`], makes the object visible under its name and then writes
//! `<key>.sha256`, last. Until then nothing is visible under that name:
//!
//! - a directory: OpenDAL writes into the temporary directory and renames on close;
//! - S3: OpenDAL's writer; a `PUT` or multipart upload appears whole when it completes,
//!   and an aborted one never appears;
//! - WebDAV: a streamed `PUT` to the temporary directory, then `MOVE`; or, when the
//!   server cannot move, a `PUT` in place, with the old `.sha256` removed first so the
//!   object counts as absent until its new checksum is written;
//! - WebHDFS: `CREATE` of a temporary file, then `RENAME`. HDFS shows a file at its path
//!   while it is written and keeps what was written when an upload breaks off, so the
//!   temporary name alone carries the atomicity; a killed run's partial file is left
//!   in the temporary directory for [`Store::sweep`].
//!
//! A `PUT` by hand runs on a thread of its own, fed through a bounded channel, so the
//! caller can stream one source into several stores at once.

use std::io::Read;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use opendal::Buffer;
use opendal::options::WriteOptions;

use crate::checksum::sidecar;
use crate::store::{Kind, S3_PART};
use crate::{Problem, Store, StoreError};

/// Chunks queued for a streamed `PUT`: with 1 MiB chunks, at most this many MiB wait.
const PIPE_DEPTH: usize = 4;

type PutResult = Result<ureq::http::Response<ureq::Body>, ureq::Error>;

/// One object being written. Dropped without [`Put::commit`], it is thrown away: the
/// partial object is removed, or never completed.
pub struct Put<'a> {
    store: &'a Store,
    key: String,
    replace: bool,
    /// `None` once committed.
    inner: Option<Inner>,
}

enum Inner {
    Dal(opendal::Writer),
    /// A `PUT` by hand, to `temp` (`None`: in place).
    Http {
        pipe: Pipe,
        temp: Option<String>,
    },
}

impl Store {
    /// Starts writing `key` (`length` bytes, when known). With `replace`, something is
    /// there already: its `.sha256` is removed just before the object under `key`
    /// changes, so a reader never pairs the new object with the old checksum.
    pub fn put(&self, key: &str, length: Option<u64>, replace: bool) -> Result<Put<'_>, StoreError> {
        let inner = match &self.kind {
            Kind::Fs { .. } | Kind::S3 { .. } => {
                let chunk = matches!(self.kind, Kind::S3 { .. }).then_some(S3_PART);
                let options = WriteOptions { chunk, concurrent: 1, ..WriteOptions::default() };
                let writer = self
                    .handle
                    .block_on(self.op.writer_options(key, options))
                    .map_err(|err| self.dal_error("write", key, &err))?;
                Inner::Dal(writer)
            }
            Kind::Webdav(dav) => {
                let temp = dav.move_into_place.then(|| self.temp_key(key));
                if temp.is_none() && replace {
                    self.delete(&sidecar(key))?;
                }
                let target = temp.as_deref().unwrap_or(key);
                dav.mkcol_parents(&self.agent, target);
                let pipe = Pipe::spawn(&self.agent, dav.request("PUT", target), length, key);
                Inner::Http { pipe, temp }
            }
            Kind::Webhdfs(hdfs) => {
                let temp = self.temp_key(key);
                let datanode = hdfs.create(&self.agent, &temp)?;
                let request = ureq::http::Request::builder().method("PUT").uri(&datanode);
                Inner::Http { pipe: Pipe::spawn(&self.agent, request, length, key), temp: Some(temp) }
            }
        };
        Ok(Put { store: self, key: key.to_owned(), replace, inner: Some(inner) })
    }

    /// Moves a finished upload to its name.
    fn rename(&self, temp: &str, key: &str) -> Result<(), StoreError> {
        match &self.kind {
            Kind::Webdav(dav) => dav.move_to(&self.agent, temp, key),
            Kind::Webhdfs(hdfs) => {
                // HDFS does not rename over an existing file.
                self.delete(key)?;
                hdfs.rename(&self.agent, temp, key)
            }
            Kind::Fs { .. } | Kind::S3 { .. } => Ok(()),
        }
    }

    fn delete_temp(&self, temp: &str) {
        if let Err(err) = self.delete(temp) {
            tracing::debug!(temp, %err, "cannot remove a temporary object");
        }
    }

    /// An error status of a `PUT` by hand.
    fn put_status(&self, key: &str, response: &mut ureq::http::Response<ureq::Body>) -> StoreError {
        match &self.kind {
            Kind::Webdav(dav) => dav.status("write", key, response),
            _ => crate::webdav::status_error("write", self.location(key), response, None),
        }
    }
}

impl Put<'_> {
    pub fn write(&mut self, chunk: &[u8]) -> Result<(), StoreError> {
        let store = self.store;
        match self.inner.as_mut().expect("a put is written to until it is committed") {
            Inner::Dal(writer) => store
                .handle
                .block_on(writer.write(Buffer::from(chunk.to_vec())))
                .map_err(|err| store.dal_error("write", &self.key, &err)),
            Inner::Http { pipe, .. } => {
                if pipe.send(chunk) {
                    Ok(())
                } else {
                    let err = std::io::Error::other("the server ended the upload early");
                    Err(StoreError::new("write", store.location(&self.key), Problem::Broken(err)))
                }
            }
        }
    }

    /// Makes the object visible under its name, then writes `<key>.sha256` with
    /// `sha256`, which the caller has verified (the object's sha256, and any checksum
    /// its source published).
    pub fn commit(mut self, sha256: &str) -> Result<(), StoreError> {
        let (store, key, replace) = (self.store, self.key.clone(), self.replace);
        match self.inner.take().expect("a put is committed once") {
            Inner::Dal(mut writer) => {
                let closed = (|| {
                    if replace {
                        store.delete(&sidecar(&key))?;
                    }
                    store.handle.block_on(writer.close()).map(drop).map_err(|err| store.dal_error("write", &key, &err))
                })();
                if let Err(err) = closed {
                    // Removes the temporary file (fs) or the incomplete multipart upload (S3).
                    let _ = store.handle.block_on(writer.abort());
                    return Err(err);
                }
            }
            Inner::Http { pipe, temp } => {
                let published = (|| {
                    let mut response = pipe
                        .finish()
                        .map_err(|err| StoreError::new("write", store.location(&key), Problem::Transport(err)))?;
                    if !(200..300).contains(&response.status().as_u16()) {
                        return Err(store.put_status(&key, &mut response));
                    }
                    if let Some(temp) = &temp {
                        if replace {
                            store.delete(&sidecar(&key))?;
                        }
                        store.rename(temp, &key)?;
                    }
                    Ok(())
                })();
                if let Err(err) = published {
                    if let Some(temp) = &temp {
                        store.delete_temp(temp);
                    }
                    return Err(err);
                }
            }
        }
        store.write_checksum(&key, sha256)
    }

    /// Throws the partial object away (as dropping it does).
    pub fn abort(self) {}
}

impl Drop for Put<'_> {
    fn drop(&mut self) {
        match self.inner.take() {
            None => {}
            Some(Inner::Dal(mut writer)) => {
                let _ = self.store.handle.block_on(writer.abort());
            }
            Some(Inner::Http { pipe, temp }) => {
                drop(pipe);
                if let Some(temp) = &temp {
                    self.store.delete_temp(temp);
                }
            }
        }
    }
}

/// A `PUT` on its own thread, its body fed chunk by chunk. Dropped before
/// [`Pipe::finish`], it breaks the request off: the body fails, so the server never
/// completes it.
struct Pipe {
    tx: Option<SyncSender<Result<Vec<u8>, ()>>>,
    thread: Option<JoinHandle<PutResult>>,
}

impl Pipe {
    fn spawn(agent: &ureq::Agent, request: ureq::http::request::Builder, length: Option<u64>, key: &str) -> Pipe {
        let (tx, rx) = sync_channel::<Result<Vec<u8>, ()>>(PIPE_DEPTH);
        let agent = agent.clone();
        let mut request = request.header("Content-Type", "application/octet-stream");
        if let Some(length) = length {
            request = request.header("Content-Length", length.to_string());
        }
        let thread = std::thread::Builder::new()
            .name(format!("pad-store-put-{key}"))
            .spawn(move || -> PutResult {
                let mut reader = ChannelReader { rx, chunk: Vec::new(), pos: 0 };
                let (parts, ()) = request.body(()).map_err(ureq::Error::Http)?.into_parts();
                agent.run(ureq::http::Request::from_parts(parts, ureq::SendBody::from_reader(&mut reader)))
            })
            .expect("a thread can be started");
        Pipe { tx: Some(tx), thread: Some(thread) }
    }

    /// Sends a chunk; `false` when the request already ended (its error comes from
    /// [`Pipe::finish`]).
    fn send(&mut self, chunk: &[u8]) -> bool {
        self.tx.as_ref().is_some_and(|tx| tx.send(Ok(chunk.to_vec())).is_ok())
    }

    /// Ends the body and waits for the response.
    fn finish(mut self) -> PutResult {
        drop(self.tx.take());
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            _ => Err(ureq::Error::Io(std::io::Error::other("the upload thread panicked"))),
        }
    }
}

impl Drop for Pipe {
    fn drop(&mut self) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(Err(()));
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The body of a [`Pipe`]'s request: what the channel brings, until it closes (the end)
/// or brings an error (broken off).
struct ChannelReader {
    rx: Receiver<Result<Vec<u8>, ()>>,
    chunk: Vec<u8>,
    pos: usize,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.chunk.len() {
            match self.rx.recv() {
                Ok(Ok(chunk)) => {
                    self.chunk = chunk;
                    self.pos = 0;
                }
                Ok(Err(())) => return Err(std::io::Error::other("the copy was aborted")),
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

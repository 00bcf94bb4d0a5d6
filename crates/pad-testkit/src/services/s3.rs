//! moto's S3 server on 127.0.0.1, with one bucket, and boto3 to look behind a
//! registry's or a cache's back.

use camino::{Utf8Path, Utf8PathBuf};
use pad_process::Cmd;

use super::server_dir;
use crate::KitError;
use crate::error::Context as _;
use crate::server::{Server, Stop, free_port};
use crate::tools::tool_python;

/// The moto release the S3 server comes from (PyPI), installed once per tools directory.
pub const MOTO: &str = "moto[server]==5.2.5";

pub const S3_ACCESS_KEY: &str = "pad-test-key";
pub const S3_SECRET_KEY: &str = "pad-test-secret-91c2";

/// moto's S3 server on 127.0.0.1, with one bucket.
pub struct S3Server {
    server: Server,
    pub port: u16,
    python: Utf8PathBuf,
    path: Utf8PathBuf,
    _dir: tempfile::TempDir,
}

impl S3Server {
    /// Starts moto (installed into `tools` on first use) and creates `bucket`.
    pub fn start(tools: &Utf8Path, bucket: &str) -> Result<S3Server, KitError> {
        let python = tool_python(tools, MOTO)?;
        let (dir, path) = server_dir()?;
        let port = free_port()?;
        let command = Cmd::new(&python, &path).args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()]);
        let mut server = Server::spawn("moto", &command, Stop::Kill)?;
        server.wait_for(port)?;
        let s3 = S3Server { server, port, python, path, _dir: dir };
        s3.boto3(&format!("s3.create_bucket(Bucket={bucket:?})"))?;
        Ok(s3)
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// One line per request (Werkzeug's access log).
    pub fn log(&self) -> String {
        self.server.log_text()
    }

    /// Overwrites an object behind the registry's back.
    pub fn put_object(&self, bucket: &str, key: &str, body: &[u8]) -> Result<(), KitError> {
        let file = self.path.join("object");
        std::fs::write(&file, body).with_context(|| format!("writing {file}"))?;
        self.boto3(&format!("s3.upload_file({:?}, {bucket:?}, {key:?})", file.as_str())).map(drop)
    }

    /// The keys under `prefix`.
    pub fn keys(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, KitError> {
        let out = self.boto3(&format!(
            "print('\\n'.join(o['Key'] for o in s3.list_objects_v2(Bucket={bucket:?}, Prefix={prefix:?}).get('Contents', [])))"
        ))?;
        Ok(out.lines().map(str::to_owned).collect())
    }

    fn boto3(&self, code: &str) -> Result<String, KitError> {
        let script = format!(
            "import boto3\ns3 = boto3.client('s3', endpoint_url='{}', region_name='us-east-1', aws_access_key_id='{S3_ACCESS_KEY}', aws_secret_access_key='{S3_SECRET_KEY}')\n{code}\n",
            self.endpoint()
        );
        Cmd::new(&self.python, &self.path)
            .args(["-c", &script])
            .read()
            .with_context(|| format!("boto3 against moto failed; moto's log:\n{}", self.server.log_text()))
    }
}

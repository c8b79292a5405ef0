//! A session's connection for one cycle: opened with its file's key and known chats and the
//! API pair it is bound to, tried again with backoff while Telegram is unreachable, and closed
//! keeping the chats it resolved. A session Telegram killed is quarantined here; nothing here
//! sends a post.

use herald_telegram::{ApiCredentials, Connection, SendError, SessionHandle};
use secrecy::SecretString;

use crate::WorkerError;
use crate::session_run::{SessionCtx, SessionJob};

impl SessionCtx {
    /// Keeps the chats the connection resolved with the session (so the next connection, on
    /// any worker, resolves them no more), then disconnects.
    pub(crate) async fn close(&self, job: &SessionJob, connection: Box<dyn Connection>) {
        let learned = connection.learned();
        connection.disconnect().await;
        if learned.is_empty() {
            return;
        }
        let w = &self.worker.inner;
        // Only for the log line, as each error says it: `WorkerError::SessionFile` would call a
        // failed write of the chats an unusable session file.
        let kept = match w.pool.session_file(&self.user, &job.session) {
            Ok(path) => w
                .credentials
                .remember(&path, learned)
                .await
                .map_err(|e| e.to_string()),
            Err(err) => Err(err.to_string()),
        };
        if let Err(err) = kept {
            // Only a cost: the next connection resolves these chats again.
            tracing::warn!(error = %err, "cannot keep resolved chats with the session");
        }
    }

    pub(crate) async fn connect(
        &self,
        job: &SessionJob,
    ) -> Result<Box<dyn Connection>, WorkerError> {
        let w = &self.worker.inner;
        let path = w
            .pool
            .session_file(&self.user, &job.session)
            .map_err(WorkerError::Pool)?;
        let file = w
            .credentials
            .read(&path)
            .await
            .map_err(WorkerError::SessionFile)?;
        let pair = w
            .pool
            .pair_credentials(job.pair)
            .map_err(WorkerError::Pool)?;
        let api = ApiCredentials {
            api_id: pair.api_id,
            api_hash: SecretString::from(pair.api_hash.expose().to_owned()),
        };
        let mut retries = 0;
        loop {
            let handle = SessionHandle {
                name: job.session.clone(),
                credentials: file.credentials.clone(),
                entities: file.entities.to_vec(),
            };
            match w.telegram.connect(handle, api.clone()).await {
                Ok(connection) => return Ok(connection),
                Err(SendError::SessionDead { code }) => {
                    self.quarantine(&job.session, &code).await;
                    return Err(WorkerError::Dead { code });
                }
                Err(SendError::Transient) if retries < w.config.policy.transient_retries => {
                    let wait = w.config.policy.transient_backoff.jittered(retries);
                    retries += 1;
                    if !self.sleep(wait).await {
                        return Err(WorkerError::Stopped);
                    }
                }
                Err(err) => return Err(WorkerError::Connect(err)),
            }
        }
    }
}

//! What can end a pipeline run or a replay: the source failing, or an
//! output that cannot be written.

use std::io;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum PipelineError {
    #[error("reading records: {0}")]
    Source(io::Error),
    #[error("writing events: {0}")]
    Events(io::Error),
    #[error("writing alerts: {0}")]
    Alerts(io::Error),
    #[error("closing the recorder: {0}")]
    Recorder(monitor_recorder::WriteError),
}

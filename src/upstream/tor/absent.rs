//! A build without the `tor` feature: no embedded Tor client. The types exist so that the rest
//! of the bouncer reads the same either way, but none can be made: [`TorService::start`]
//! refuses, so no route through Tor, and no direct connection in its place, is ever built.

use std::sync::Arc;

use super::{NOT_BUILT, TorSetupError, TorStatus};
use crate::config;
use crate::upstream::transport::TransportError;

/// Never made in this build.
pub enum TorService {}

/// Never made in this build.
pub enum TorRoute {}

/// Refused: there is no arti here to read it.
pub fn check_arti_config(_text: &str) -> Result<(), String> {
    Err(NOT_BUILT.to_string())
}

impl TorService {
    /// Always refuses.
    pub fn start(
        _cfg: &config::Tor,
        _data: &config::Data,
    ) -> Result<Arc<TorService>, TorSetupError> {
        Err(TorSetupError::NotBuilt)
    }

    /// Unreachable: no `TorService` exists.
    pub fn for_network(&self) -> TorRoute {
        match *self {}
    }

    /// Unreachable: no `TorService` exists.
    pub fn status(&self) -> TorStatus {
        match *self {}
    }
}

impl TorRoute {
    /// Unreachable: no `TorRoute` exists.
    pub fn status(&self) -> TorStatus {
        match *self {}
    }

    /// Unreachable: no `TorRoute` exists.
    pub async fn connect(
        &self,
        _host: &str,
        _port: u16,
        _progress: &mut (dyn FnMut(String) + Send),
    ) -> Result<tokio::net::TcpStream, TransportError> {
        match *self {}
    }
}

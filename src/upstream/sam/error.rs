//! What can go wrong talking to the router's SAM bridge, in words a user can act on, and
//! whether trying again later can help.

/// One step of the SAM exchange, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// `HELLO VERSION`.
    Hello,
    /// `SESSION CREATE` (builds the tunnels).
    SessionCreate,
    /// `NAMING LOOKUP`.
    Lookup,
    /// `STREAM CONNECT`.
    StreamConnect,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Step::Hello => "HELLO",
            Step::SessionCreate => "SESSION CREATE",
            Step::Lookup => "NAMING LOOKUP",
            Step::StreamConnect => "STREAM CONNECT",
        })
    }
}

/// A SAM failure.
#[derive(Debug, thiserror::Error)]
pub enum SamError {
    /// Nothing listens at the SAM address (or it is unreachable).
    #[error(
        "no I2P router at {addr} ({error}); is i2pd (or I2P) running with its SAM bridge enabled?"
    )]
    NoRouter {
        /// The SAM address.
        addr: String,
        /// Why.
        error: std::io::Error,
    },
    /// A step got no answer in time.
    #[error("the I2P router did not answer {step} within {secs} s")]
    Timeout {
        /// Which step.
        step: Step,
        /// How long we waited.
        secs: u64,
    },
    /// The router closed the connection (or it broke) in the middle of a step.
    #[error("the I2P router closed the SAM connection during {step}")]
    Closed {
        /// Which step.
        step: Step,
    },
    /// The router speaks no SAM version we do.
    #[error("the I2P router speaks no SAM version from 3.0 to 3.1 ({detail})")]
    NoVersion {
        /// What it said.
        detail: String,
    },
    /// The router refused the step with a `RESULT=` code.
    #[error("{step}: {}{}", explain(result, *step), message.as_deref().map(|m| format!(" (router: {m})")).unwrap_or_default())]
    Refused {
        /// Which step.
        step: Step,
        /// The `RESULT=` code.
        result: String,
        /// The router's `MESSAGE=`.
        message: Option<String>,
    },
    /// The reply was not what SAM says it should be.
    #[error("unexpected answer to {step} from the I2P router: {detail}")]
    Protocol {
        /// Which step.
        step: Step,
        /// What was wrong.
        detail: String,
    },
}

impl SamError {
    /// Whether trying again later cannot help until something is changed (a router upgrade,
    /// a corrected host name or key). Everything else (router down, peer unreachable,
    /// timeouts) is retried with backoff.
    pub fn is_permanent(&self) -> bool {
        match self {
            SamError::NoVersion { .. } => true,
            SamError::Refused { result, .. } => result == "INVALID_KEY",
            _ => false,
        }
    }

    /// The `RESULT=` code, if the router refused.
    pub fn result(&self) -> Option<&str> {
        match self {
            SamError::Refused { result, .. } => Some(result),
            _ => None,
        }
    }
}

/// A plain-words reading of a `RESULT=` code.
fn explain(result: &str, step: Step) -> String {
    let text = match (result, step) {
        ("CANT_REACH_PEER", _) => {
            "the server's I2P destination cannot be reached (it is offline, or its tunnels or \
             lease set are not up yet)"
        }
        ("PEER_NOT_FOUND", _) => "the server's I2P destination was not found",
        ("TIMEOUT", _) => "the I2P router timed out",
        ("KEY_NOT_FOUND", Step::Lookup) => {
            "the name is not in the router's address book and no lease set was found for it \
             (use the server's .b32.i2p address, or add the name to the address book)"
        }
        ("INVALID_KEY", Step::SessionCreate) => {
            "the router refused our stored I2P keys as invalid (delete i2p-<network>.sealed \
             to start with new ones)"
        }
        ("INVALID_KEY", _) => "the router says the server's destination or name is not valid",
        ("DUPLICATED_ID", _) => "a session with our session id already exists on the router",
        ("DUPLICATED_DEST", _) => {
            "another session already uses our I2P destination on the router (an earlier \
             otrbnc that has not ended yet?)"
        }
        ("INVALID_ID", _) => "the router no longer knows our session (was it restarted?)",
        ("I2P_ERROR", _) => "the I2P router reported an error",
        _ => "the I2P router refused",
    };
    format!("{text} [{result}]")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(step: Step, result: &str, message: Option<&str>) -> SamError {
        SamError::Refused {
            step,
            result: result.to_string(),
            message: message.map(str::to_string),
        }
    }

    #[test]
    fn messages_name_the_step_the_code_and_the_router_text() {
        let e = refused(Step::StreamConnect, "CANT_REACH_PEER", Some("no lease set"));
        let s = e.to_string();
        assert!(s.starts_with("STREAM CONNECT: the server's I2P destination cannot be reached"));
        assert!(s.contains("[CANT_REACH_PEER]") && s.ends_with("(router: no lease set)"));
        assert!(!e.is_permanent());
        let e = refused(Step::Lookup, "KEY_NOT_FOUND", None);
        assert!(e.to_string().contains(".b32.i2p address"));
        assert!(!e.is_permanent());
        assert_eq!(e.result(), Some("KEY_NOT_FOUND"));
    }

    #[test]
    fn only_bad_keys_and_versions_are_permanent() {
        assert!(refused(Step::SessionCreate, "INVALID_KEY", None).is_permanent());
        assert!(refused(Step::StreamConnect, "INVALID_KEY", None).is_permanent());
        assert!(SamError::NoVersion { detail: "x".into() }.is_permanent());
        for code in [
            "TIMEOUT",
            "I2P_ERROR",
            "DUPLICATED_DEST",
            "INVALID_ID",
            "WHATEVER",
        ] {
            assert!(
                !refused(Step::SessionCreate, code, None).is_permanent(),
                "{code}"
            );
        }
        let no_router = SamError::NoRouter {
            addr: "127.0.0.1:7656".into(),
            error: std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
        };
        assert!(!no_router.is_permanent());
        assert!(no_router.to_string().contains("SAM bridge enabled"));
    }
}

//! Upstream through Tor. With the `tor` feature (the default) an embedded Tor client, arti
//! ([`arti`]); without it ([`absent`]) a network with `transport = "tor"` is refused by the
//! config check and at start, never connected another way. What the user is told about Tor is
//! here, for both.

#[cfg(not(feature = "tor"))]
mod absent;
#[cfg(feature = "tor")]
mod arti;

#[cfg(not(feature = "tor"))]
pub use absent::{TorRoute, TorService, check_arti_config};
#[cfg(feature = "tor")]
pub use arti::{TorRoute, TorService, check_arti_config};

/// Where the embedded client stands, as the user is told.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TorStatus {
    /// Bootstrap progress, 0..=100.
    pub percent: u8,
    /// Bootstrapped: streams can be opened.
    pub ready: bool,
    /// arti's own summary ("40%: connecting…; fetching a consensus" or "Stuck at …").
    pub summary: String,
    /// Why arti says it is stuck, if it does.
    pub blocked: Option<String>,
    /// The last bootstrap error, if the last attempt failed.
    pub error: Option<String>,
    /// Seconds from start to bootstrapped.
    pub bootstrap_secs: Option<f64>,
}

impl TorStatus {
    /// One line for `*otr status` and progress notices.
    pub fn describe(&self) -> String {
        if self.ready {
            return match self.bootstrap_secs {
                Some(s) => format!("bootstrapped (in {s:.1} s)"),
                None => "bootstrapped".to_string(),
            };
        }
        let mut text = format!("bootstrapping, {}%", self.percent);
        if let Some(b) = &self.blocked {
            text.push_str(&format!(", stuck: {b}"));
        } else if !self.summary.is_empty() {
            text.push_str(&format!(" ({})", self.summary));
        }
        if let Some(e) = &self.error {
            text.push_str(&format!("; last attempt failed: {e}"));
        }
        text
    }
}

/// Why the embedded client could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TorSetupError {
    /// The state/cache directory could not be created.
    #[error("Tor data directory: {0}")]
    Dir(String),
    /// `tor.arti_config` could not be read or used.
    #[error("tor.arti_config {path}: {error}")]
    ArtiConfig {
        /// The file.
        path: String,
        /// Why.
        error: String,
    },
    /// arti refused the configuration or could not start.
    #[error("cannot start the embedded Tor client: {0}")]
    Arti(String),
    /// This otrbnc was built without the `tor` feature.
    #[error("{NOT_BUILT}")]
    NotBuilt,
}

/// What a build without the `tor` feature says about `transport = "tor"`.
pub const NOT_BUILT: &str = "this otrbnc was built without embedded Tor (the `tor` cargo feature); \
     build it with the default features, or use transport = \"socks5\" through a Tor daemon";

/// An error with its sources, as one line.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        src = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_say_what_is_happening() {
        let mut st = TorStatus {
            percent: 40,
            summary: "40%: connecting".into(),
            ..TorStatus::default()
        };
        assert_eq!(st.describe(), "bootstrapping, 40% (40%: connecting)");
        st.blocked = Some("Can't reach the Tor network".into());
        st.error = Some("timed out".into());
        assert_eq!(
            st.describe(),
            "bootstrapping, 40%, stuck: Can't reach the Tor network; last attempt failed: timed out"
        );
        st.ready = true;
        st.bootstrap_secs = Some(12.34);
        assert_eq!(st.describe(), "bootstrapped (in 12.3 s)");
    }
}

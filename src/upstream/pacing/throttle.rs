//! Server replies that say a line of ours was dropped or must wait: hybrid's and solanum's
//! `NOTICE <me> :*** Message to <target> throttled due to flooding` (one per dropped
//! PRIVMSG, from the server), 439 ERR_TARGETTOOFAST (ircu: `<target> :Target change too
//! fast. Please wait <n> seconds.`), 707 ERR_TARGCHANGE (solanum, ratbox: `<target>
//! :Targets changing too fast, message dropped`), and 263 RPL_TRYAGAIN (`<command> :Please
//! wait a while and try again.`: a command refused for load, not a message).

use std::time::Duration;

use crate::irc::Line;

use super::targets::THROTTLE_REST;

/// How long a target rests after a 707 (solanum frees a target slot in about a minute; half
/// of it, then the per-target pace).
const TARGCHANGE_REST: Duration = Duration::from_secs(30);
/// The longest rest a 439 can ask for.
const MAX_REST: Duration = Duration::from_secs(300);

/// What a server reply says about our lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Throttle {
    /// A message to `target` (as the server spells it) was dropped; the target should rest.
    Dropped {
        /// The target.
        target: String,
        /// How long to send it nothing.
        rest: Duration,
    },
    /// The server refused a command for load (263): slow down overall.
    TryAgain,
}

/// The throttle a line from the server reports, if any. `is_me` tells our nick.
pub fn classify(line: &Line<'_>, is_me: impl Fn(&str) -> bool) -> Option<Throttle> {
    let to_me = line.param_str(0).is_some_and(|t| is_me(&t));
    if !to_me {
        return None;
    }
    let dropped = |target: Option<String>, rest| {
        target
            .filter(|t| !t.is_empty() && !t.contains(' '))
            .map(|target| Throttle::Dropped { target, rest })
    };
    if line.is("NOTICE") {
        // From the server itself (no `nick!user@host`), never from a user.
        if line
            .source
            .is_none_or(|s| s.contains(&b'!') || s.contains(&b'@'))
        {
            return None;
        }
        let text = line.param_str(1)?;
        let target = text
            .strip_prefix("*** Message to ")?
            .strip_suffix(" throttled due to flooding")?;
        return dropped(Some(target.to_string()), THROTTLE_REST);
    }
    match line.command {
        b"439" => {
            let wait = line
                .param_str(2)
                .and_then(|t| first_number(&t))
                .map_or(THROTTLE_REST, |s| Duration::from_secs(s).min(MAX_REST));
            dropped(line.param_str(1), wait.max(Duration::from_secs(1)))
        }
        b"707" => dropped(line.param_str(1), TARGCHANGE_REST),
        b"263" => Some(Throttle::TryAgain),
        _ => None,
    }
}

fn first_number(text: &str) -> Option<u64> {
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let digits: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .take(6)
        .collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify_raw(raw: &[u8]) -> Option<Throttle> {
        classify(&Line::parse(raw).unwrap(), |n| {
            n.eq_ignore_ascii_case("alice")
        })
    }

    #[test]
    fn the_hybrid_and_solanum_notice() {
        assert_eq!(
            classify_raw(
                b":irc.example NOTICE alice :*** Message to bob throttled due to flooding\r\n"
            ),
            Some(Throttle::Dropped {
                target: "bob".into(),
                rest: THROTTLE_REST
            })
        );
        // The same text from a user, or to someone else, is not the server's.
        assert_eq!(
            classify_raw(
                b":eve!e@h NOTICE alice :*** Message to bob throttled due to flooding\r\n"
            ),
            None
        );
        assert_eq!(
            classify_raw(
                b":irc.example NOTICE carol :*** Message to bob throttled due to flooding\r\n"
            ),
            None
        );
        assert_eq!(
            classify_raw(b":irc.example NOTICE alice :*** Message to bob was delivered\r\n"),
            None
        );
    }

    #[test]
    fn numerics() {
        assert_eq!(
            classify_raw(
                b":srv 439 alice bob :Target change too fast. Please wait 17 seconds.\r\n"
            ),
            Some(Throttle::Dropped {
                target: "bob".into(),
                rest: Duration::from_secs(17)
            })
        );
        assert_eq!(
            classify_raw(b":srv 439 alice bob :Please wait 999999999 seconds.\r\n"),
            Some(Throttle::Dropped {
                target: "bob".into(),
                rest: MAX_REST
            })
        );
        assert_eq!(
            classify_raw(b":srv 707 alice bob :Targets changing too fast, message dropped\r\n"),
            Some(Throttle::Dropped {
                target: "bob".into(),
                rest: TARGCHANGE_REST
            })
        );
        assert_eq!(
            classify_raw(b":srv 263 alice WHO :Please wait a while and try again.\r\n"),
            Some(Throttle::TryAgain)
        );
        assert_eq!(classify_raw(b":srv 263 carol WHO :wait\r\n"), None);
        assert_eq!(classify_raw(b":srv 001 alice :hi\r\n"), None);
    }
}

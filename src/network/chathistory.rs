//! CHATHISTORY (IRCv3 `draft/chathistory`), answered from the messages otrbnc keeps
//! ([`super::history`]): LATEST, BEFORE, AFTER, AROUND, BETWEEN and TARGETS, in a
//! `chathistory` batch, each message with its time and msgid. The server is never asked.

use bytes::Bytes;

use super::clients::{parse_time_stamp, time_stamp, with_tags, with_time_tag};
use super::history::{MsgRef, Selector};
use super::{ClientId, Net};
use crate::irc::Line;

/// Most messages one request returns (ISUPPORT `CHATHISTORY`).
pub const MAX_LIMIT: usize = 1000;
/// What otrbnc adds to the server's ISUPPORT for its clients.
pub const ISUPPORT: &str = "CHATHISTORY=1000 MSGREFTYPES=timestamp,msgid";

/// One parsed request.
#[derive(Debug, PartialEq, Eq)]
pub enum Request {
    /// Messages of one conversation.
    Messages {
        /// As the client wrote it.
        target: String,
        /// Which.
        selector: Selector,
        /// At most this many (bounded by [`MAX_LIMIT`]).
        limit: usize,
    },
    /// Conversations active between two times (Unix ms).
    Targets {
        /// One end.
        from: u64,
        /// The other.
        to: u64,
        /// At most this many.
        limit: usize,
    },
}

/// Why a request is refused: the FAIL code and the words for it.
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal {
    /// `INVALID_PARAMS`, `INVALID_TARGET` or `UNKNOWN_COMMAND`.
    pub code: &'static str,
    /// For the user.
    pub why: &'static str,
}

fn msg_ref(s: &str) -> Option<MsgRef> {
    if s == "*" {
        return Some(MsgRef::Any);
    }
    if let Some(t) = s.strip_prefix("timestamp=") {
        return parse_time_stamp(t).map(MsgRef::Time);
    }
    s.strip_prefix("msgid=")
        .filter(|id| !id.is_empty() && id.len() <= 100)
        .map(|id| MsgRef::Msgid(id.to_string()))
}

/// Parses `CHATHISTORY <sub> …` from its parameters (after the command).
pub fn parse(params: &[String]) -> Result<Request, Refusal> {
    let invalid = |why| Refusal {
        code: "INVALID_PARAMS",
        why,
    };
    let sub = params
        .first()
        .map(|s| s.to_ascii_uppercase())
        .unwrap_or_default();
    let limit_at = |i: usize| -> Result<usize, Refusal> {
        let n: usize = params
            .get(i)
            .and_then(|l| l.parse().ok())
            .ok_or_else(|| invalid("the limit must be a number"))?;
        if n == 0 {
            return Err(invalid("the limit must be at least 1"));
        }
        Ok(n.min(MAX_LIMIT))
    };
    let reference = |i: usize| -> Result<MsgRef, Refusal> {
        params.get(i).and_then(|r| msg_ref(r)).ok_or_else(|| {
            invalid("a reference is *, timestamp=YYYY-MM-DDThh:mm:ss.sssZ or msgid=…")
        })
    };
    if sub == "TARGETS" {
        let time = |i: usize| match reference(i)? {
            MsgRef::Time(t) => Ok(t),
            _ => Err(invalid("TARGETS takes two timestamps")),
        };
        return Ok(Request::Targets {
            from: time(1)?,
            to: time(2)?,
            limit: limit_at(3)?,
        });
    }
    let target = params
        .get(1)
        .filter(|t| !t.is_empty() && *t != "*")
        .cloned()
        .ok_or(Refusal {
            code: "INVALID_TARGET",
            why: "no target",
        })?;
    let need_point = |r: MsgRef| match r {
        MsgRef::Any => Err(invalid("* is only for LATEST")),
        r => Ok(r),
    };
    let (selector, limit) = match sub.as_str() {
        "LATEST" => (Selector::Latest(reference(2)?), limit_at(3)?),
        "BEFORE" => (Selector::Before(need_point(reference(2)?)?), limit_at(3)?),
        "AFTER" => (Selector::After(need_point(reference(2)?)?), limit_at(3)?),
        "AROUND" => (Selector::Around(need_point(reference(2)?)?), limit_at(3)?),
        "BETWEEN" => (
            Selector::Between(need_point(reference(2)?)?, need_point(reference(3)?)?),
            limit_at(4)?,
        ),
        _ => {
            return Err(Refusal {
                code: "UNKNOWN_COMMAND",
                why: "LATEST, BEFORE, AFTER, AROUND, BETWEEN or TARGETS",
            });
        }
    };
    Ok(Request::Messages {
        target,
        selector,
        limit,
    })
}

impl Net {
    pub(super) fn client_chathistory(&mut self, id: ClientId, line: &Line<'_>) {
        let params: Vec<String> = (0..line.params.len())
            .filter_map(|i| line.param_str(i))
            .collect();
        let sub = params
            .first()
            .map(|s| s.to_ascii_uppercase())
            .unwrap_or_default();
        let request = match parse(&params) {
            Ok(r) => r,
            Err(r) => {
                let target = match r.code {
                    "INVALID_TARGET" => format!(" {}", params.get(1).map_or("*", String::as_str)),
                    _ => String::new(),
                };
                let fail = format!(
                    ":{} FAIL CHATHISTORY {} {}{target} :{}\r\n",
                    self.server_name(),
                    r.code,
                    if sub.is_empty() { "*" } else { sub.as_str() },
                    r.why
                );
                self.clients.send_to(id, Bytes::from(fail));
                return;
            }
        };
        self.history_batch_seq += 1;
        let batch = format!("otrbnc{}", self.history_batch_seq);
        let server = self.server_name();
        match request {
            Request::Messages {
                target,
                selector,
                limit,
            } => {
                let folded = self.irc.fold(&target);
                let found = self.clients.select(&folded, &selector, limit);
                let open = format!(":{server} BATCH +{batch} chathistory {target}\r\n");
                self.clients.send_to(id, Bytes::from(open));
                for e in found {
                    let timed = with_time_tag(&e.line, e.ms);
                    let msgid = e.msgid();
                    let line = with_tags(&timed, &[("batch", &batch), ("msgid", &msgid)]);
                    self.clients.send_to(id, line);
                }
            }
            Request::Targets { from, to, limit } => {
                let open = format!(":{server} BATCH +{batch} draft/chathistory-targets\r\n");
                self.clients.send_to(id, Bytes::from(open));
                for (target, ms) in self.clients.targets(from, to, limit) {
                    let line = format!(
                        "@batch={batch} :{server} CHATHISTORY TARGETS {target} {}\r\n",
                        time_stamp(ms)
                    );
                    self.clients.send_to(id, Bytes::from(line));
                }
            }
        }
        self.clients
            .send_to(id, Bytes::from(format!(":{server} BATCH -{batch}\r\n")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Request, Refusal> {
        parse(&s.split(' ').map(str::to_string).collect::<Vec<_>>())
    }

    #[test]
    fn requests_parse_and_limits_are_bounded() {
        assert_eq!(
            p("LATEST #chan * 50").unwrap(),
            Request::Messages {
                target: "#chan".into(),
                selector: Selector::Latest(MsgRef::Any),
                limit: 50
            }
        );
        assert_eq!(
            p("before #c msgid=abc 5000").unwrap(),
            Request::Messages {
                target: "#c".into(),
                selector: Selector::Before(MsgRef::Msgid("abc".into())),
                limit: MAX_LIMIT
            }
        );
        assert_eq!(
            p("AFTER bob timestamp=2023-11-14T22:13:20.123Z 10").unwrap(),
            Request::Messages {
                target: "bob".into(),
                selector: Selector::After(MsgRef::Time(1_700_000_000_123)),
                limit: 10
            }
        );
        assert!(matches!(
            p("BETWEEN #c msgid=a msgid=b 3").unwrap(),
            Request::Messages {
                selector: Selector::Between(..),
                ..
            }
        ));
        assert_eq!(
            p("TARGETS timestamp=2023-11-14T22:13:20.123Z timestamp=2023-11-14T22:13:21.000Z 9")
                .unwrap(),
            Request::Targets {
                from: 1_700_000_000_123,
                to: 1_700_000_001_000,
                limit: 9
            }
        );
    }

    #[test]
    fn bad_requests_are_refused_with_the_right_code() {
        for (req, code) in [
            ("LATEST #c * 0", "INVALID_PARAMS"),
            ("LATEST #c * x", "INVALID_PARAMS"),
            ("BEFORE #c * 5", "INVALID_PARAMS"),
            ("AFTER #c timestamp=yesterday 5", "INVALID_PARAMS"),
            ("AFTER #c msgid= 5", "INVALID_PARAMS"),
            ("LATEST", "INVALID_TARGET"),
            ("FROB #c * 5", "UNKNOWN_COMMAND"),
            ("", "INVALID_TARGET"),
        ] {
            assert_eq!(p(req).map(|_| ()).unwrap_err().code, code, "{req}");
        }
    }
}

//! A client connection: registration with otrbnc (PASS, NICK, USER, CAP), login, then
//! relaying lines between the socket and the selected network's task.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::codec::{FramedRead, FramedWrite};

use crate::bouncer::Hub;
use crate::irc::codec::{Frame, LineCodec, write_batch};
use crate::irc::{Cap, CapSet, caps};
use crate::irc::{Line, build};
use crate::network::{Attachment, CLIENT_QUEUE, MAX_CLIENT_NAME, NetMsg, valid_client_name};

/// Time allowed to register.
const REGISTRATION_TIMEOUT: Duration = Duration::from_secs(60);
/// Delay before a wrong password is answered (slows down guessing).
const FAILURE_DELAY: Duration = Duration::from_secs(1);
/// Lines accepted before registration completes.
const MAX_REGISTRATION_LINES: usize = 50;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// What a client sent while registering.
#[derive(Debug, Default)]
struct Registration {
    pass: Option<String>,
    nick: Option<String>,
    user: Option<String>,
    realname: Option<String>,
    cap_negotiating: bool,
    caps: CapSet,
    /// What otrbnc offered it (what the network it will attach to had then).
    offered: CapSet,
}

/// How a client selects its network and proves who it is.
#[derive(Debug, PartialEq, Eq)]
pub struct Login {
    /// User name (optional in the PASS forms without one).
    pub user: Option<String>,
    /// Network name, if given.
    pub network: Option<String>,
    /// Client name (`user@client`), if given: a named client gets, when it attaches, the
    /// messages it missed since its last connection left.
    pub client: Option<String>,
    /// Password.
    pub password: String,
}

/// Parses ZNC-style credentials: `PASS user/network:password`, `PASS network:password`,
/// `PASS password` with `USER user/network` (or a plain `USER user`, which names no network).
/// What a bare name means depends on where it came from: the network in PASS, the user in
/// USER. A client name follows `@` (soju's and ZNC's `user@client/network`; also
/// `user/network@client`).
pub fn parse_login(pass: &str, user_param: Option<&str>) -> Login {
    let mut login = parse_names(pass, user_param);
    for part in [&mut login.user, &mut login.network] {
        if let Some((name, client)) = part.as_deref().and_then(|p| p.rsplit_once('@')) {
            login.client = Some(client.to_string());
            *part = (!name.is_empty()).then(|| name.to_string());
        }
    }
    login
}

fn parse_names(pass: &str, user_param: Option<&str>) -> Login {
    let nonempty = |s: &str| (!s.is_empty()).then(|| s.to_string());
    let (ident, password, from_pass) = match pass.split_once(':') {
        Some((ident, pw)) => (Some(ident), pw.to_string(), true),
        None => (user_param, pass.to_string(), false),
    };
    let (user, network) = match ident {
        None => (None, None),
        Some(id) => match id.split_once('/') {
            Some((u, n)) => (nonempty(u), nonempty(n)),
            None if from_pass => (None, nonempty(id)),
            None => (nonempty(id), None),
        },
    };
    Login {
        user,
        network,
        client: None,
        password,
    }
}

/// Serves one client connection to the end.
pub async fn serve(stream: TcpStream, hub: Arc<Hub>) {
    let _ = stream.set_nodelay(true);
    let (rd, wr) = stream.into_split();
    let mut reader = FramedRead::new(rd, LineCodec::default());
    let mut writer = FramedWrite::new(wr, LineCodec::default());
    let reg = match tokio::time::timeout(
        REGISTRATION_TIMEOUT,
        register(&mut reader, &mut writer, &hub),
    )
    .await
    {
        Ok(Some(reg)) => reg,
        Ok(None) => return,
        Err(_) => {
            let _ = writer
                .send(Bytes::from_static(b"ERROR :Registration timed out\r\n"))
                .await;
            return;
        }
    };
    let nick = reg.nick.clone().unwrap_or_default();
    let Some(pass) = reg.pass.as_deref() else {
        let _ = refuse(
            &mut writer,
            &nick,
            "Password required: PASS <user>/<network>:<password>",
        )
        .await;
        return;
    };
    let login = parse_login(pass, reg.user.as_deref());
    if let Some(name) = login.client.as_deref().filter(|n| !valid_client_name(n)) {
        let why = format!(
            "Invalid client name {name:?}: 1 to {MAX_CLIENT_NAME} letters, digits, '-', '_' or '.' (user@client/network)"
        );
        let _ = refuse(&mut writer, &nick, &why).await;
        return;
    }
    let ok_user = login.user.as_deref().is_none_or(|u| u == hub.user);
    let password = login.password.clone();
    let verifier = hub.verifier.clone();
    let ok_pw = tokio::task::spawn_blocking(move || verifier.verify(password.as_bytes()))
        .await
        .unwrap_or(false);
    if !(ok_user && ok_pw) {
        tracing::info!("a client failed to log in");
        tokio::time::sleep(FAILURE_DELAY).await;
        let _ = refuse(&mut writer, &nick, "Password incorrect").await;
        return;
    }
    // `PASS user:password` (ZNC's form without a network) names the user, not a network.
    let network_name = login
        .network
        .as_deref()
        .filter(|n| !(login.user.is_none() && *n == hub.user && !hub.has_network(n)));
    let network = match hub.select_network(network_name) {
        Ok(n) => n,
        Err(msg) => {
            let _ = refuse(&mut writer, &nick, &msg).await;
            return;
        }
    };
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let (tx, mut rx) = mpsc::channel::<Bytes>(CLIENT_QUEUE);
    let attach = NetMsg::Attach(Attachment {
        id,
        tx,
        caps: reg.caps,
        offered: reg.offered,
        name: login.client.clone(),
        nick: nick.clone(),
        user: reg
            .user
            .clone()
            .unwrap_or_else(|| nick.clone())
            .split('/')
            .next()
            .unwrap_or_default()
            .to_string(),
        realname: reg.realname.clone().unwrap_or_else(|| nick.clone()),
    });
    if network.tx.send(attach).await.is_err() {
        return;
    }
    let mut write_task = tokio::spawn(async move {
        while let Some(line) = rx.recv().await {
            if write_batch(&mut writer, line, &mut rx).await.is_err() {
                break;
            }
        }
    });
    let mut overlong = 0u32;
    loop {
        tokio::select! {
            frame = reader.next() => match frame {
                Some(Ok(Frame::Line(line))) => {
                    if network.tx.send(NetMsg::FromClient { id, line }).await.is_err() {
                        break;
                    }
                }
                Some(Ok(Frame::Overlong(_))) => {
                    overlong += 1;
                    tracing::debug!(overlong, "dropped an overlong line from a client");
                }
                _ => break,
            },
            // The network dropped this client (QUIT, or it could not keep up).
            _ = &mut write_task => break,
        }
    }
    let _ = network.tx.send(NetMsg::Detach { id }).await;
    write_task.abort();
}

async fn refuse<W>(
    writer: &mut FramedWrite<W, LineCodec>,
    nick: &str,
    why: &str,
) -> std::io::Result<()>
where
    W: tokio::io::AsyncWrite + Unpin,
{
    let target = if nick.is_empty() { "*" } else { nick };
    writer
        .send(build::message(Some("otrbnc"), "464", target, why))
        .await?;
    writer
        .send(Bytes::from(format!("ERROR :Closing link: {why}\r\n")))
        .await?;
    writer.close().await
}

/// Reads registration lines until NICK and USER are in and CAP negotiation (if started) has
/// ended. Returns None when the client left.
async fn register<R, W>(
    reader: &mut FramedRead<R, LineCodec>,
    writer: &mut FramedWrite<W, LineCodec>,
    hub: &Hub,
) -> Option<Registration>
where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    let mut reg = Registration::default();
    for _ in 0..MAX_REGISTRATION_LINES {
        let Some(Ok(Frame::Line(raw))) = reader.next().await else {
            return None;
        };
        let Some(line) = Line::parse(&raw) else {
            continue;
        };
        let nick = reg.nick.clone().unwrap_or_else(|| "*".to_string());
        match line.command.to_ascii_uppercase().as_slice() {
            b"PASS" => reg.pass = line.param_str(0),
            b"NICK" => reg.nick = line.param_str(0),
            b"USER" => {
                reg.user = line.param_str(0);
                reg.realname = line.param_str(3);
            }
            b"CAP" => {
                let sub = line.param_str(0).unwrap_or_default().to_ascii_uppercase();
                match sub.as_str() {
                    "LS" => {
                        reg.cap_negotiating = true;
                        reg.offered = offer(hub, reg.pass.as_deref());
                        // `CAP LS 302` turns cap-notify on (capability negotiation 3.2).
                        if line
                            .param_str(1)
                            .is_some_and(|v| v.parse::<u32>().is_ok_and(|v| v >= 302))
                        {
                            reg.caps = reg.caps.with(Cap::CapNotify);
                        }
                        let l = format!(":otrbnc CAP {nick} LS :{}\r\n", reg.offered.names());
                        writer.send(Bytes::from(l)).await.ok()?;
                    }
                    "REQ" => {
                        reg.cap_negotiating = true;
                        if reg.offered.is_empty() {
                            reg.offered = offer(hub, reg.pass.as_deref());
                        }
                        let asked = line.param_str(1).unwrap_or_default();
                        let known = reg.caps.apply_request(&asked, reg.offered);
                        let verb = if known { "ACK" } else { "NAK" };
                        let l = format!(":otrbnc CAP {nick} {verb} :{}\r\n", asked.trim());
                        writer.send(Bytes::from(l)).await.ok()?;
                    }
                    "LIST" => {
                        let l = format!(":otrbnc CAP {nick} LIST :{}\r\n", reg.caps.names());
                        writer.send(Bytes::from(l)).await.ok()?;
                    }
                    "END" => reg.cap_negotiating = false,
                    _ => {}
                }
            }
            b"PING" => {
                let token = line.param_str(0).unwrap_or_default();
                writer
                    .send(build::message(Some("otrbnc"), "PONG", "otrbnc", &token))
                    .await
                    .ok()?;
            }
            b"QUIT" => return None,
            _ => {}
        }
        if reg.nick.is_some() && reg.user.is_some() && !reg.cap_negotiating {
            return Some(reg);
        }
    }
    None
}

/// What otrbnc offers a registering client: what it emulates, and what the network it
/// will attach to has from its server (the one named in PASS so far, or the only one).
/// With several networks and none named yet, the rest comes as CAP NEW after attaching.
fn offer(hub: &Hub, pass: Option<&str>) -> CapSet {
    let named = pass.and_then(|p| parse_login(p, None).network);
    let upstream = hub
        .select_network(named.as_deref())
        .map(|n| n.info.upstream_caps())
        .unwrap_or_default();
    caps::offered_downstream(upstream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_names() {
        for (pass, user) in [
            ("alice@phone/libera:pw", None),
            ("alice/libera@phone:pw", None),
            ("pw", Some("alice@phone/libera")),
            ("pw", Some("alice/libera@phone")),
        ] {
            let l = parse_login(pass, user);
            assert_eq!(l.user.as_deref(), Some("alice"), "{pass} {user:?}");
            assert_eq!(l.network.as_deref(), Some("libera"), "{pass} {user:?}");
            assert_eq!(l.client.as_deref(), Some("phone"), "{pass} {user:?}");
            assert_eq!(l.password, "pw");
        }
        let l = parse_login("alice@desk:pw", None);
        assert_eq!(
            (l.network.as_deref(), l.client.as_deref()),
            (Some("alice"), Some("desk"))
        );
        assert_eq!(parse_login("libera:pw", None).client, None);
    }

    #[test]
    fn login_forms() {
        assert_eq!(
            parse_login("alice/libera:pw", None),
            Login {
                user: Some("alice".into()),
                network: Some("libera".into()),
                client: None,
                password: "pw".into()
            }
        );
        assert_eq!(
            parse_login("libera:pw:with:colons", None),
            Login {
                user: None,
                network: Some("libera".into()),
                client: None,
                password: "pw:with:colons".into()
            }
        );
        assert_eq!(
            parse_login("pw", Some("alice/libera")),
            Login {
                user: Some("alice".into()),
                network: Some("libera".into()),
                client: None,
                password: "pw".into()
            }
        );
        // A bare name in PASS is the network, in USER the user, even when they are equal.
        assert_eq!(
            parse_login("libera:pw", Some("libera")),
            Login {
                user: None,
                network: Some("libera".into()),
                client: None,
                password: "pw".into()
            }
        );
        assert_eq!(
            parse_login("pw", Some("alice")),
            Login {
                user: Some("alice".into()),
                network: None,
                client: None,
                password: "pw".into()
            }
        );
        assert_eq!(
            parse_login("pw", None),
            Login {
                user: None,
                network: None,
                client: None,
                password: "pw".into()
            }
        );
    }
}

//! `otrbnc::downstream::parse_login(pass, user)`: the ZNC-style credentials a client sends
//! before anything is checked.
//!
//! Input: one flag byte (bit 0: a USER parameter is present), then the USER parameter and
//! the PASS parameter, separated by the first `\n` (without one, everything is the PASS);
//! invalid UTF-8 is replaced as the bouncer does with `param_str`.
//!
//! Properties (the documented forms `PASS user/network:password`, `PASS network:password`,
//! `PASS password` with `USER user/network` or `USER user`):
//! * the password is what follows the first `:` of PASS, or all of PASS without one;
//! * user and network, when present, are non-empty, and the user has no `/`;
//! * the identity is the part of PASS before its first `:`, or else the USER parameter; with
//!   a `/` it is `user/network` (split at the first `/`); without one it names the network
//!   when it came from PASS and the user when it came from USER;
//! * a client name follows the last `@` of the user or the network part, and is taken off it.
//!
//! Known discrepancy, not asserted (see KNOWN_SAME_NAME): `parse_login` decides where the
//! identity came from by comparing values (`ident == user_param`), so `PASS libera:pw` with
//! `USER libera` yields user "libera" and no network instead of network "libera".
#![no_main]

use otrbnc::downstream::parse_login;

/// Set to `true` to assert the documented behaviour also when the PASS identity equals the
/// USER parameter (fails until `parse_login` tells the two sources apart by origin).
const KNOWN_SAME_NAME: bool = true;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check(data));

fn check(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let (user_bytes, pass_bytes) = match rest.iter().position(|&b| b == b'\n') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (&rest[..0], rest),
    };
    let pass = String::from_utf8_lossy(pass_bytes);
    let user_param = String::from_utf8_lossy(user_bytes);
    let user_param = (flags & 1 == 1).then_some(user_param.as_ref());

    let login = parse_login(&pass, user_param);

    // The password.
    let expected_pw = pass.split_once(':').map_or(pass.as_ref(), |(_, pw)| pw);
    assert_eq!(login.password, expected_pw, "password");

    // Shape.
    if let Some(u) = &login.user {
        assert!(!u.is_empty(), "empty user");
        assert!(!u.contains('/'), "user with a '/': {u:?}");
    }
    if let Some(n) = &login.network {
        assert!(!n.is_empty(), "empty network");
    }

    // The documented forms.
    let (ident, from_pass) = match pass.split_once(':') {
        Some((id, _)) => (Some(id), true),
        None => (user_param, false),
    };
    let nonempty = |s: &str| (!s.is_empty()).then(|| s.to_string());
    let (user, network) = match ident {
        None => (None, None),
        Some(id) => match id.split_once('/') {
            Some((u, n)) => (nonempty(u), nonempty(n)),
            None if from_pass => (None, nonempty(id)),
            None => (nonempty(id), None),
        },
    };
    let same_name = from_pass && ident == user_param && !ident.unwrap_or("").contains('/');
    if same_name && !KNOWN_SAME_NAME {
        // What the code does today: the PASS identity is taken for the user.
        assert_eq!(
            login.user,
            ident.and_then(nonempty),
            "user (same-name case)"
        );
        assert_eq!(login.network, None, "network (same-name case)");
        return;
    }
    // A client name (`user@client`, `network@client`) is taken off the last `@`.
    let (mut user, mut network, mut client) = (user, network, None);
    for part in [&mut user, &mut network] {
        if let Some((name, c)) = part.clone().as_deref().and_then(|p| p.rsplit_once('@')) {
            client = Some(c.to_string());
            *part = (!name.is_empty()).then(|| name.to_string());
        }
    }
    assert_eq!(login.user, user, "user");
    assert_eq!(login.network, network, "network");
    assert_eq!(login.client, client, "client");
}

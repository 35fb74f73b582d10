use bytes::Bytes;

use super::*;

const PREFIXES: &[u8] = b"~&@%+";

fn shaped(raw: &str, caps: &[Cap]) -> Option<String> {
    let raw = Bytes::from(raw.to_string());
    shape(&raw, CapSet::of(caps), PREFIXES).map(|b| String::from_utf8_lossy(&b).into_owned())
}

#[test]
fn untagged_text_passes_as_the_same_bytes() {
    let raw = Bytes::from_static(b":a!u@h PRIVMSG #c :hello\r\n");
    assert!(!may_need_shaping(&raw));
    let out = shape(&raw, CapSet::EMPTY, PREFIXES).unwrap();
    assert_eq!(out.as_ptr(), raw.as_ptr(), "not copied");
}

#[test]
fn tags_are_kept_only_for_the_caps_a_client_has() {
    let line = "@time=2026-01-01T00:00:00.000Z;msgid=abc;account=carol;+draft/typing=active :c!u@h PRIVMSG #c :hi\r\n";
    assert_eq!(
        shaped(line, &[]).unwrap(),
        ":c!u@h PRIVMSG #c :hi\r\n",
        "no tags at all, the rest byte-exact"
    );
    assert_eq!(
        shaped(line, &[Cap::ServerTime]).unwrap(),
        "@time=2026-01-01T00:00:00.000Z :c!u@h PRIVMSG #c :hi\r\n"
    );
    assert_eq!(
        shaped(line, &[Cap::AccountTag, Cap::MessageTags]).unwrap(),
        "@msgid=abc;account=carol;+draft/typing=active :c!u@h PRIVMSG #c :hi\r\n",
        "message-tags brings every tag but those of caps not held"
    );
    let all = [Cap::ServerTime, Cap::AccountTag, Cap::MessageTags];
    assert_eq!(shaped(line, &all).unwrap(), line, "everything asked for");
    // A batch tag goes with the BATCH lines a client without `batch` never sees.
    assert_eq!(
        shaped("@batch=x;msgid=1 :a JOIN #c\r\n", &[Cap::MessageTags]).unwrap(),
        "@msgid=1 :a JOIN #c\r\n"
    );
}

#[test]
fn lines_of_caps_a_client_lacks_are_not_sent() {
    for (line, cap) in [
        (":c!u@h CHGHOST newu new.host\r\n", Cap::Chghost),
        (":c!u@h AWAY :gone\r\n", Cap::AwayNotify),
        (":c!u@h AWAY\r\n", Cap::AwayNotify),
        (":c!u@h ACCOUNT carol\r\n", Cap::AccountNotify),
        (":c!u@h SETNAME :Carol C\r\n", Cap::Setname),
        ("@+typing=active :c!u@h TAGMSG #c\r\n", Cap::MessageTags),
        (":irc.test BATCH +x netsplit a b\r\n", Cap::Batch),
    ] {
        assert_eq!(shaped(line, &[]), None, "{line}");
        assert!(shaped(line, &[cap]).is_some(), "{line}");
    }
}

#[test]
fn leading_spaces_do_not_smuggle_tags() {
    assert_eq!(
        shaped("  @x=secret :c!u@h PRIVMSG #c :hi\r\n", &[]).unwrap(),
        ":c!u@h PRIVMSG #c :hi\r\n"
    );
    assert_eq!(shaped(" :c!u@h CHGHOST u h\r\n", &[]), None);
    // A second tag section where the command belongs is not a line.
    assert_eq!(shaped("@a=1 @b=2 :c!u@h PRIVMSG #c :hi\r\n", &[]), None);
}

#[test]
fn extended_join_becomes_a_plain_join() {
    let line = "@time=t :c!u@h JOIN #chan carol :Carol C\r\n";
    assert_eq!(shaped(line, &[]).unwrap(), ":c!u@h JOIN #chan\r\n");
    assert_eq!(
        shaped(line, &[Cap::ServerTime]).unwrap(),
        "@time=t :c!u@h JOIN #chan\r\n"
    );
    assert_eq!(
        shaped(line, &[Cap::ExtendedJoin, Cap::ServerTime]).unwrap(),
        line
    );
    // A plain JOIN stays the same bytes.
    assert_eq!(
        shaped(":c!u@h JOIN :#chan\r\n", &[]).unwrap(),
        ":c!u@h JOIN :#chan\r\n"
    );
}

#[test]
fn names_lose_extra_prefixes_and_hosts() {
    let line = ":irc.test 353 me = #c :@+carol!cu@h1 +dave!du@h2 erin!eu@h3\r\n";
    assert_eq!(
        shaped(line, &[]).unwrap(),
        ":irc.test 353 me = #c :@carol +dave erin\r\n"
    );
    assert_eq!(
        shaped(line, &[Cap::MultiPrefix]).unwrap(),
        ":irc.test 353 me = #c :@+carol +dave erin\r\n"
    );
    assert_eq!(
        shaped(line, &[Cap::UserhostInNames]).unwrap(),
        ":irc.test 353 me = #c :@carol!cu@h1 +dave!du@h2 erin!eu@h3\r\n"
    );
    assert_eq!(
        shaped(line, &[Cap::MultiPrefix, Cap::UserhostInNames]).unwrap(),
        line
    );
    // An entry with no nick leaves nothing, not an empty entry (shaping twice is the same).
    assert_eq!(
        shaped(":x 353 me = #c :a!u@h !u@h b\r\n", &[]).unwrap(),
        ":x 353 me = #c :a b\r\n"
    );
    // Nothing to change: the same bytes.
    let plain = ":irc.test 353 me = #c :@carol dave\r\n";
    assert_eq!(shaped(plain, &[]).unwrap(), plain);
}

#[test]
fn who_flags_keep_one_prefix() {
    let line = ":irc.test 352 me #c cu h1 irc.test carol H*@+ :0 Carol C\r\n";
    assert_eq!(
        shaped(line, &[]).unwrap(),
        ":irc.test 352 me #c cu h1 irc.test carol H*@ :0 Carol C\r\n"
    );
    assert_eq!(shaped(line, &[Cap::MultiPrefix]).unwrap(), line);
}

#[test]
fn odd_lines_do_not_panic_and_pass() {
    for raw in [
        &b"@"[..],
        b"@ ",
        b"@a=b",
        b":",
        b": JOIN",
        b"353",
        b"JOIN",
        b":x 353 a b c :",
        b":x 352 a b",
        b"@;;; :x JOIN #c a b",
        b"@time=\xff :x JOIN #\xfe a :\xfd",
    ] {
        let raw = Bytes::copy_from_slice(raw);
        let _ = shape(&raw, CapSet::EMPTY, PREFIXES);
        let _ = shape(&raw, CapSet::from_bits(u32::MAX), PREFIXES);
    }
}

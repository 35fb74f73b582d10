use super::*;
use crate::store::sealed::TEST_PARAMS;

fn pass() -> Passphrase {
    text_pass("correct horse")
}

fn text_pass(s: &str) -> Passphrase {
    Passphrase::new(Zeroizing::new(s.as_bytes().to_vec())).unwrap()
}

fn msg(seq: u64, text: &str) -> Record {
    Record::Message {
        seq,
        ms: 1_700_000_000_000 + seq,
        target: "#secretchan".into(),
        line: format!(":carolnick!u@h PRIVMSG #secretchan :{text}\r\n").into_bytes(),
    }
}

fn open(dir: &Path) -> Result<(MessageLog, Vec<Record>), StoreError> {
    MessageLog::open_or_create_with_params(dir, "net", &pass(), TEST_PARAMS)
}

#[test]
fn records_come_back_in_order_across_chunks_and_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, none) = open(dir.path()).unwrap();
    assert!(none.is_empty());
    let mut want = Vec::new();
    for i in 0..2_000 {
        let r = msg(i, &format!("message number {i}"));
        log.append(&r).unwrap();
        want.push(r);
    }
    let pos = Record::Position {
        name: "phone".into(),
        seq: 77,
        ms: 5,
    };
    log.append(&pos).unwrap();
    want.push(pos);
    log.flush().unwrap();
    assert!(log.chunks > 1, "several chunks");
    drop(log);
    let (_, got) = open(dir.path()).unwrap();
    assert_eq!(got, want);
}

#[test]
fn nothing_is_readable_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = open(dir.path()).unwrap();
    log.append(&msg(1, "the plaintext words")).unwrap();
    log.append(&Record::Position {
        name: "phonename".into(),
        seq: 1,
        ms: 1,
    })
    .unwrap();
    log.flush().unwrap();
    let bytes = std::fs::read(log.path()).unwrap();
    for needle in [
        "plaintext",
        "carolnick",
        "secretchan",
        "phonename",
        "PRIVMSG",
    ] {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "{needle} on disk"
        );
    }
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(log.path()).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn a_damaged_or_reordered_chunk_is_refused_and_the_file_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = open(dir.path()).unwrap();
    log.append(&msg(1, "one")).unwrap();
    log.flush().unwrap();
    log.append(&msg(2, "two")).unwrap();
    log.flush().unwrap();
    let path = log.path().to_path_buf();
    drop(log);
    let good = std::fs::read(&path).unwrap();
    // A flipped byte in the first chunk's ciphertext.
    let mut bad = good.clone();
    bad[HEADER_LEN + 4 + NONCE_LEN + 2] ^= 1;
    std::fs::write(&path, &bad).unwrap();
    let err = open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::Decrypt { .. }), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), bad, "left as it was");
    // The two chunks swapped: each fails under the other's index.
    let first_len = 4
        + NONCE_LEN
        + u32::from_be_bytes(good[HEADER_LEN..HEADER_LEN + 4].try_into().unwrap()) as usize;
    let (head, chunks) = good.split_at(HEADER_LEN);
    let (c1, c2) = chunks.split_at(first_len);
    std::fs::write(&path, [head, c2, c1].concat()).unwrap();
    assert!(open(dir.path()).is_err());
    // Not a log at all.
    std::fs::write(&path, b"hello").unwrap();
    let err = open(dir.path()).unwrap_err();
    assert!(err.to_string().contains("left as it is"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), b"hello");
}

#[test]
fn a_torn_last_chunk_is_skipped_and_cut_off_before_the_next_append() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = open(dir.path()).unwrap();
    log.append(&msg(1, "kept")).unwrap();
    log.flush().unwrap();
    log.append(&msg(2, "torn")).unwrap();
    log.flush().unwrap();
    let path = log.path().to_path_buf();
    drop(log);
    let full = std::fs::read(&path).unwrap();
    std::fs::write(&path, &full[..full.len() - 5]).unwrap();
    let (mut log, got) = open(dir.path()).unwrap();
    assert_eq!(got, vec![msg(1, "kept")]);
    log.append(&msg(3, "after")).unwrap();
    log.flush().unwrap();
    drop(log);
    let (_, got) = open(dir.path()).unwrap();
    assert_eq!(got, vec![msg(1, "kept"), msg(3, "after")]);
}

#[test]
fn a_rewrite_keeps_only_what_it_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = open(dir.path()).unwrap();
    for i in 0..100 {
        log.append(&msg(i, "x")).unwrap();
    }
    log.flush().unwrap();
    let keep: Vec<Record> = (90..100).map(|i| msg(i, "x")).collect();
    log.rewrite(keep.iter()).unwrap();
    log.append(&msg(100, "y")).unwrap();
    log.flush().unwrap();
    drop(log);
    let (_, got) = open(dir.path()).unwrap();
    assert_eq!(got.len(), 11);
    assert_eq!(got.last(), Some(&msg(100, "y")));
}

#[test]
fn the_wrong_passphrase_cannot_open_it() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = open(dir.path()).unwrap();
    log.append(&msg(1, "x")).unwrap();
    log.flush().unwrap();
    let other = text_pass("wrong");
    let err =
        MessageLog::open_or_create_with_params(dir.path(), "net", &other, TEST_PARAMS).unwrap_err();
    assert!(matches!(err, StoreError::Decrypt { .. }), "{err}");
}

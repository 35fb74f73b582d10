use super::*;

const ALL: [CaseMapping; 4] = [
    CaseMapping::Ascii,
    CaseMapping::Rfc1459,
    CaseMapping::StrictRfc1459,
    CaseMapping::Rfc8265,
];

fn same(m: CaseMapping, a: &str, b: &str) -> bool {
    m.fold(a) == m.fold(b)
}

#[test]
fn folds_ascii_as_declared() {
    assert_eq!(CaseMapping::Ascii.fold("Bob[x]"), "bob[x]");
    assert_eq!(CaseMapping::Rfc1459.fold("Bob[x]\\~"), "bob{x}|^");
    assert_eq!(CaseMapping::StrictRfc1459.fold("Bob[x]\\~"), "bob{x}|~");
    assert_eq!(CaseMapping::Rfc8265.fold("Bob[x]\\~"), "bob[x]\\~");
}

#[test]
fn reads_casemapping_and_utf8mapping() {
    let m = CaseMapping::from_isupport;
    assert_eq!(m(None, None), CaseMapping::Rfc1459);
    assert_eq!(m(Some("ASCII"), None), CaseMapping::Ascii);
    assert_eq!(m(Some("rfc1459"), None), CaseMapping::Rfc1459);
    assert_eq!(m(Some("strict-rfc1459"), None), CaseMapping::StrictRfc1459);
    assert_eq!(m(Some("rfc1459-strict"), None), CaseMapping::StrictRfc1459);
    // Oragono before 2017 and anything that names PRECIS.
    assert_eq!(m(Some("rfc7613"), None), CaseMapping::Rfc8265);
    assert_eq!(m(Some("rfc8265"), None), CaseMapping::Rfc8265);
    assert_eq!(m(Some("PRECIS"), None), CaseMapping::Rfc8265);
    // Ergo: ASCII for ASCII, PRECIS for the rest.
    assert_eq!(m(Some("ascii"), Some("rfc8265")), CaseMapping::Rfc8265);
    assert_eq!(m(Some("ascii"), Some("RFC7613")), CaseMapping::Rfc8265);
    // Unknown or unspecified mappings take the coarsest fold.
    assert_eq!(m(Some("utf8"), None), CaseMapping::Rfc1459);
    assert_eq!(m(Some("utf-8"), None), CaseMapping::Rfc1459);
    assert_eq!(m(Some("rfc3454"), None), CaseMapping::Rfc1459);
    assert_eq!(m(Some(""), None), CaseMapping::Rfc1459);
    // UTF8MAPPING changes nothing about ASCII, and an unknown one keeps the base mapping
    // (whose Unicode fold is the conservative one).
    assert_eq!(m(Some("rfc1459"), Some("rfc8265")), CaseMapping::Rfc1459);
    assert_eq!(m(Some("ascii"), Some("weird")), CaseMapping::Ascii);
}

#[test]
fn precis_folds_as_ergo_does() {
    let m = CaseMapping::Rfc8265;
    // Width mapping, then case mapping.
    assert_eq!(m.fold("ＢＯＢ"), "bob");
    assert_eq!(m.fold("Ｂob"), "bob");
    // Case mapping and NFC.
    assert_eq!(m.fold("BÖB"), "böb");
    assert_eq!(m.fold("bo\u{308}b"), "böb");
    assert_eq!(m.fold("BO\u{308}B"), "böb");
    assert_eq!(m.fold("Élève"), "élève");
    // x/text lower-cases without the final-sigma rule; so does the profile here.
    assert_eq!(m.fold("ΟΔΟΣ"), "οδοσ");
    assert!(same(m, "ΟΔΟΣ", "οδοσ"));
    // toLowerCase, not case folding: Ergo keeps these apart.
    assert!(!same(m, "straße", "strasse"));
    assert!(!same(m, "bob[x]", "bob{x}"));
    // Cyrillic is not Latin (Ergo refuses confusable nicks at registration instead).
    assert!(!same(m, "bоb", "bob"));
}

#[test]
fn nicks_precis_refuses_fold_conservatively() {
    let m = CaseMapping::Rfc8265;
    // Ergo refuses these as nicks; the fold still lands on the nick they look like.
    assert_eq!(m.fold("ＢＯＢ\u{200b}"), "bob");
    assert_eq!(m.fold("\u{fb01}sh"), "fish");
    assert_eq!(m.fold("Ⓑob"), "bob");
}

#[test]
fn unicode_folds_conservatively_under_ascii_mappings() {
    // Servers that declare an ASCII mapping but allow Unicode nicks fold them in ways the
    // declaration does not say (Ergo's "permissive" mode: NFD and case folding).
    for m in [
        CaseMapping::Ascii,
        CaseMapping::Rfc1459,
        CaseMapping::StrictRfc1459,
    ] {
        assert!(same(m, "ＢＯＢ", "bob"), "{m:?}");
        assert!(same(m, "BÖB", "bo\u{308}b"), "{m:?}");
        assert!(same(m, "Straße", "STRASSE"), "{m:?}");
        assert!(same(m, "ΟΔΟΣ", "οδος"), "{m:?}");
        assert!(same(m, "b\u{ad}ob", "bob"), "{m:?}");
        assert!(same(m, "\u{fb01}sh", "FISH"), "{m:?}");
    }
    // The ASCII rule still holds inside a Unicode nick.
    assert!(same(CaseMapping::Rfc1459, "ＢＯＢ［Ｘ］", "bob{x}"));
    assert!(!same(CaseMapping::Ascii, "ＢＯＢ［Ｘ］", "bob{x}"));
    assert!(same(CaseMapping::Ascii, "ＢＯＢ［Ｘ］", "bob[x]"));
}

/// The default (also for unknown mappings) merges whatever any known mapping merges, so
/// nothing is opted out before the server's 005 arrives or when it names something new.
#[test]
fn the_default_is_coarser_than_every_mapping() {
    let nicks = [
        "bob",
        "BOB",
        "ＢＯＢ",
        "Bob[x]",
        "bob{X}",
        "bob|~",
        "BOB\\^",
        "böb",
        "BÖB",
        "bo\u{308}b",
        "ΟΔΟΣ",
        "οδοσ",
        "οδος",
        "Straße",
        "STRASSE",
        "strasse",
        "\u{fb01}sh",
        "fish",
        "İstanbul",
        "i\u{307}stanbul",
        "ǅemal",
        "ǆemal",
        "ꭰꭱ",
        "ᎠᎡ",
        "x\u{200d}y",
        "xy",
    ];
    let coarse = CaseMapping::default();
    for m in ALL {
        for a in nicks {
            for b in nicks {
                if same(m, a, b) {
                    assert!(same(coarse, a, b), "{m:?} merges {a:?} and {b:?}");
                }
            }
        }
    }
}

#[test]
fn folding_is_stable() {
    for m in ALL {
        for s in [
            "ＢＯＢ［Ｘ］",
            "ΟΔΟΣ",
            "İstanbul",
            "ǅemal",
            "\u{fdfa}",
            "Ⓑob",
            "ᎠᎡ",
            "a\u{345}Σ",
        ] {
            let once = m.fold(s);
            assert_eq!(m.fold(&once), once, "{m:?} {s:?}");
        }
    }
}

#[test]
fn long_input_stays_bounded() {
    // U+FDFA expands to 18 code points: a whole IRC line of it is still a few KiB.
    let s = "\u{fdfa}".repeat(170);
    for m in ALL {
        assert!(m.fold(&s).len() < 16 * 1024, "{m:?}");
    }
}

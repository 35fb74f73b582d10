use super::*;
use crate::keyfile::parse_private_keys;
use rand::SeedableRng;
use rand::rngs::StdRng;

/// The key libotr 4.1.1 generated for alice@irc.example (tests/data, see keyfile tests).
fn libotr_key() -> PrivateKey {
    let mut keys = parse_private_keys(include_bytes!("../../tests/data/libotr.private_key"))
        .unwrap_or_default();
    assert_eq!(keys.len(), 1);
    keys.remove(0).key
}

/// `msg=<hex>` and `sig=<hex>` from tests/data/libotr.sig.txt (made by otrl_privkey_sign).
fn libotr_sig() -> ([u8; 32], Vec<u8>) {
    let text = include_str!("../../tests/data/libotr.sig.txt");
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|h| hex::decode(h).ok())
            .unwrap_or_default()
    };
    let msg: [u8; 32] = field("msg=").try_into().unwrap_or([0; 32]);
    (msg, field("sig="))
}

fn rng() -> StdRng {
    StdRng::seed_from_u64(7)
}

#[test]
fn libotr_signature_verifies_and_needs_the_mod_q_reading() {
    let key = libotr_key();
    let (msg, sig) = libotr_sig();
    assert_eq!(sig.len(), 40);
    assert_eq!(key.public().sig_len(), 40);
    assert_eq!(key.public().verify(&msg, &sig), Ok(()));

    // The fixture's M is above q (its top byte is 0xff), so reading it the FIPS 186 way
    // (leftmost 160 bits) is a different number, and libotr's signature does not verify so.
    let (r, s) = sig.split_at(20);
    let prec = key.public().key.components().q().bits_precision();
    let fips = dsa::Signature::from_components(
        BoxedUint::from_be_slice(r, prec).unwrap_or_default(),
        BoxedUint::from_be_slice(s, prec).unwrap_or_default(),
    );
    let fips = fips.map(|sig| key.public().key.verify_prehash(&msg[..20], &sig));
    assert!(matches!(fips, Some(Err(_))));
    // Whereas the reduced value, handed to the crate directly, does.
    assert_ne!(key.public().reduce(&msg), msg[..20].to_vec());

    let mut other = msg;
    other[31] ^= 1;
    assert_eq!(
        key.public().verify(&other, &sig),
        Err(DsaError::BadSignature)
    );
}

#[test]
fn sign_verify_round_trip_and_tampering_fails() {
    let key = libotr_key();
    let mut rng = rng();
    for m in [[0u8; 32], [0xff; 32], [0x5a; 32]] {
        let sig = key.sign(&mut rng, &m);
        assert_eq!(sig.len(), 40);
        assert_eq!(key.public().verify(&m, &sig), Ok(()));
        // Randomized k: a second signature differs but verifies too.
        let sig2 = key.sign(&mut rng, &m);
        assert_ne!(sig, sig2);
        assert_eq!(key.public().verify(&m, &sig2), Ok(()));

        let mut wrong = m;
        wrong[0] ^= 0x80;
        assert_eq!(
            key.public().verify(&wrong, &sig),
            Err(DsaError::BadSignature)
        );
        for bit in [0, 7, 100, 159, 160, 200, 319] {
            let mut bad = sig.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(
                key.public().verify(&m, &bad),
                Err(DsaError::BadSignature),
                "flipped bit {bit}"
            );
        }
    }
}

#[test]
fn malformed_signatures_are_errors() {
    let key = libotr_key();
    let m = [3u8; 32];
    let good = key.sign(&mut rng(), &m);
    let q = key.public().key.components().q().to_be_bytes();
    let q20 = q[q.len() - 20..].to_vec();
    let cases: Vec<Vec<u8>> = vec![
        vec![],
        vec![0; 39],
        vec![0; 41],
        good[..39].to_vec(),
        [good.clone(), vec![0]].concat(),
        vec![0; 40],                                 // r = s = 0
        [vec![0; 20], good[20..].to_vec()].concat(), // r = 0
        [good[..20].to_vec(), vec![0; 20]].concat(), // s = 0
        [q20.clone(), good[20..].to_vec()].concat(), // r = q
        [good[..20].to_vec(), q20.clone()].concat(), // s = q
        vec![0xff; 40],                              // r, s > q
    ];
    for sig in cases {
        assert_eq!(key.public().verify(&m, &sig), Err(DsaError::BadSignature));
    }
}

#[test]
fn generated_key_signs_and_round_trips_through_parts() {
    let mut rng = rng();
    let key = PrivateKey::generate(&mut rng);
    let Ok(key) = key else {
        panic!("generation failed: {:?}", key.err());
    };
    let (p, q, g, y, x) = key.to_parts();
    assert_eq!(p.len(), 128);
    assert_eq!(q.len(), 20);
    assert_eq!(x.len(), 20);
    assert_eq!(key.x_bytes(), x);
    let m = [0xa5; 32];
    let sig = key.sign(&mut rng, &m);
    assert_eq!(key.public().verify(&m, &sig), Ok(()));

    let Ok(again) = PrivateKey::from_parts(&p, &q, &g, &y, &x) else {
        panic!("from_parts refused to_parts");
    };
    assert_eq!(again.public(), key.public());
    assert_eq!(again.public().fingerprint(), key.public().fingerprint());
    assert_eq!(again.public().verify(&m, &sig), Ok(()));
    assert_eq!(key.public().verify(&m, &again.sign(&mut rng, &m)), Ok(()));
    // The sealed form round-trips; a cut or padded one is refused.
    let sealed = key.to_secret_bytes();
    let Ok(back) = PrivateKey::from_secret_bytes(&sealed) else {
        panic!("from_secret_bytes refused to_secret_bytes");
    };
    assert_eq!(back.public().fingerprint(), key.public().fingerprint());
    assert!(PrivateKey::from_secret_bytes(&sealed[..sealed.len() - 1]).is_err());
    let mut longer = sealed.to_vec();
    longer.push(0);
    assert!(PrivateKey::from_secret_bytes(&longer).is_err());
}

#[test]
fn from_parts_checks_x_and_the_parameters() {
    let key = libotr_key();
    let (p, q, g, y, x) = key.to_parts();
    let plus_one = |v: &[u8]| {
        let mut v = v.to_vec();
        if let Some(last) = v.last_mut() {
            *last = last.wrapping_add(1);
        }
        v
    };
    let bad_x = [plus_one(&x), vec![0], vec![], q.clone(), vec![0xff; 21]];
    for bx in bad_x {
        assert_eq!(
            PrivateKey::from_parts(&p, &q, &g, &y, &bx).err(),
            Some(DsaError::InvalidPrivateKey)
        );
    }
    // Leading zeros in the input are fine.
    let padded = |v: &[u8]| [vec![0, 0], v.to_vec()].concat();
    assert!(PrivateKey::from_parts(&padded(&p), &padded(&q), &g, &y, &padded(&x)).is_ok());
    // A wrong y, g, q or p is refused.
    assert!(PrivateKey::from_parts(&p, &q, &g, &plus_one(&y), &x).is_err());
    assert!(PrivateKey::from_parts(&p, &q, &plus_one(&g), &y, &x).is_err());
    assert!(PrivateKey::from_parts(&p, &plus_one(&q), &g, &y, &x).is_err());
    assert!(PrivateKey::from_parts(&plus_one(&plus_one(&p)), &q, &g, &y, &x).is_err());
}

fn pubkey_bytes(fields: [&[u8]; 4]) -> Vec<u8> {
    let mut w = Writer::new();
    w.u16(0);
    for f in fields {
        w.data(f);
    }
    w.finish()
}

fn decode(bytes: &[u8]) -> Result<PublicKey, DsaError> {
    let mut r = Reader::new(bytes);
    let k = PublicKey::decode(&mut r)?;
    r.finish()?;
    Ok(k)
}

#[test]
fn pubkey_round_trips_and_keeps_the_bytes_it_was_sent() {
    let key = libotr_key();
    let enc = key.public().to_bytes();
    let Ok(back) = decode(&enc) else {
        panic!("own key refused");
    };
    assert_eq!(&back, key.public());
    let mut w = Writer::new();
    back.encode(&mut w);
    assert_eq!(w.finish(), enc);
    assert_eq!(
        format!("{back:?}"),
        format!("PublicKey({})", fingerprint_human(&back.fingerprint()))
    );

    // The fingerprint is SHA-1 of the encoding without the type.
    let direct: [u8; 20] = Sha1::digest(&enc[2..]).into();
    assert_eq!(back.fingerprint(), direct);

    // A non-minimal MPI is accepted, kept as sent, and fingerprinted as sent (as libotr).
    let (p, q, g, y, _) = key.to_parts();
    let padded_q = [vec![0u8], q.clone()].concat();
    let odd = pubkey_bytes([&p, &padded_q, &g, &y]);
    let Ok(odd_key) = decode(&odd) else {
        panic!("padded MPI refused");
    };
    assert_eq!(odd_key.to_bytes(), odd);
    assert_ne!(odd_key.fingerprint(), back.fingerprint());
    let (msg, sig) = libotr_sig();
    assert_eq!(odd_key.verify(&msg, &sig), Ok(()));
}

#[test]
fn pubkey_decode_bounds() {
    let key = libotr_key();
    let (p, q, g, y, _) = key.to_parts();
    let good = pubkey_bytes([&p, &q, &g, &y]);
    assert!(decode(&good).is_ok());

    // Wrong type, truncation, trailing bytes.
    let mut typed = good.clone();
    typed[1] = 1;
    assert_eq!(decode(&typed).err(), Some(DsaError::UnsupportedKeyType));
    for cut in [0, 1, 2, 5, 100, good.len() - 1] {
        assert!(matches!(
            decode(&good[..cut]),
            Err(DsaError::Decode(DecodeError::Truncated(_)))
        ));
    }
    assert!(decode(&[good.clone(), vec![0]].concat()).is_err());

    // Oversized fields are refused before any arithmetic.
    let huge = vec![0xffu8; MAX_FIELD_BYTES + 1];
    assert!(matches!(
        decode(&pubkey_bytes([&huge, &q, &g, &y])),
        Err(DsaError::Decode(DecodeError::LengthOutOfRange(_)))
    ));
    let mut len_only = vec![0, 0, 0xff, 0xff, 0xff, 0xff];
    len_only.extend_from_slice(&[1; 16]);
    assert!(decode(&len_only).is_err());

    // p: more than 3072 bits, fewer than 1024 bits, even.
    let big_p = [vec![1u8], vec![0; 384]].concat();
    assert_eq!(
        decode(&pubkey_bytes([&big_p, &q, &g, &y])).err(),
        Some(DsaError::InvalidParameter("p size"))
    );
    assert_eq!(
        decode(&pubkey_bytes([&p[1..], &q, &g, &y])).err(),
        Some(DsaError::InvalidParameter("p size"))
    );
    let mut even_p = p.clone();
    *even_p.last_mut().unwrap_or(&mut 0) &= 0xfe;
    assert!(decode(&pubkey_bytes([&even_p, &q, &g, &y])).is_err());

    // q: more than 256 bits, not whole bytes, too small, not dividing p - 1.
    let q264 = [vec![1u8], vec![0; 32]].concat();
    let q_odd_bits = [vec![1u8], q[1..].to_vec()].concat();
    for bad_q in [q264.as_slice(), &q_odd_bits, &q[1..], &[0u8], &[1u8]] {
        assert!(decode(&pubkey_bytes([&p, bad_q, &g, &y])).is_err());
    }
    let mut q_plus_2 = q.clone();
    *q_plus_2.last_mut().unwrap_or(&mut 0) ^= 2;
    assert_eq!(
        decode(&pubkey_bytes([&p, &q_plus_2, &g, &y])).err(),
        Some(DsaError::InvalidParameter("q does not divide p-1"))
    );

    // g and y: zero, one, p, above p, outside the subgroup.
    let p_minus_1 = {
        let mut v = p.clone();
        *v.last_mut().unwrap_or(&mut 0) ^= 1;
        v
    };
    for bad in [
        vec![],
        vec![0],
        vec![1],
        p.clone(),
        vec![0xff; 128],
        p_minus_1,
        vec![2],
    ] {
        assert!(decode(&pubkey_bytes([&p, &q, &bad, &y])).is_err());
        assert!(decode(&pubkey_bytes([&p, &q, &g, &bad])).is_err());
    }
}

#[test]
fn fingerprint_human_and_parse() {
    let fp: [u8; 20] = core::array::from_fn(|i| (i * 13 + 0xa0) as u8);
    let human = fingerprint_human(&fp);
    assert_eq!(human, "A0ADBAC7 D4E1EEFB 0815222F 3C495663 707D8A97");
    assert_eq!(parse_fingerprint(&human), Some(fp));
    assert_eq!(parse_fingerprint(&human.to_lowercase()), Some(fp));
    assert_eq!(parse_fingerprint(&human.replace(' ', "")), Some(fp));
    assert_eq!(parse_fingerprint(&format!("  {human}\n")), Some(fp));
    assert_eq!(parse_fingerprint(&hex::encode(fp)), Some(fp));
    for bad in [
        "",
        "A0ADBAC7 D4E1EEFB 08152229 36435059 6673808",
        "A0ADBAC7 D4E1EEFB 08152229 36435059 667380899",
        "G0ADBAC7 D4E1EEFB 08152229 36435059 66738089",
        "A0ADBAC7:D4E1EEFB:08152229:36435059:66738089",
        "é0ADBAC7 D4E1EEFB 08152229 36435059 6673808",
    ] {
        assert_eq!(parse_fingerprint(bad), None, "{bad:?}");
    }
    assert!(parse_fingerprint(&" ".repeat(10_000)).is_none());
}

/// Writes a signature by our code over libotr's key and over a fresh key of ours, for
/// checking with libotr's `otrl_privkey_verify` by hand:
/// `OTR3_INTEROP_DIR=/tmp/x cargo test -p otr3 --lib -- --ignored write_signatures_for_libotr`.
#[test]
#[ignore = "writes files for a manual cross-check with libotr"]
fn write_signatures_for_libotr() {
    let dir = std::env::var_os("OTR3_INTEROP_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let mut rng = rand::rng();
    let (msg, _) = libotr_sig();
    let fresh = PrivateKey::generate(&mut rng);
    let Ok(fresh) = fresh else {
        panic!("generation failed");
    };
    for (name, key) in [("ours-libotr-key", libotr_key()), ("ours-fresh-key", fresh)] {
        let sig = key.sign(&mut rng, &msg);
        let text = format!(
            "pubkey={}\nmsg={}\nsig={}\n",
            hex::encode(key.public().to_bytes()),
            hex::encode(msg),
            hex::encode(sig)
        );
        let path = dir.join(format!("{name}.sig.txt"));
        assert!(std::fs::write(&path, text).is_ok());
        println!("wrote {}", path.display());
    }
}

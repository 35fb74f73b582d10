//! The packet-capture reader the container tests audit the wire with
//! (`support::pcap`), on captures built here byte by byte.

use crate::support::pcap::streams;

fn frame(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, seq: u32, data: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; 12];
    f.extend_from_slice(&[0x08, 0x00]);
    let total = (20 + 20 + data.len()) as u16;
    let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, 6, 0, 0];
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&dst);
    f.extend_from_slice(&ip);
    let mut tcp = vec![0u8; 20];
    tcp[0..2].copy_from_slice(&sport.to_be_bytes());
    tcp[2..4].copy_from_slice(&dport.to_be_bytes());
    tcp[4..8].copy_from_slice(&seq.to_be_bytes());
    tcp[12] = 5 << 4;
    f.extend_from_slice(&tcp);
    f.extend_from_slice(data);
    f
}

fn pcap(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut p = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
    p.extend_from_slice(&[0u8; 8]);
    p.extend_from_slice(&65535u32.to_le_bytes());
    p.extend_from_slice(&1u32.to_le_bytes());
    for f in frames {
        p.extend_from_slice(&[0u8; 8]);
        p.extend_from_slice(&(f.len() as u32).to_le_bytes());
        p.extend_from_slice(&(f.len() as u32).to_le_bytes());
        p.extend_from_slice(f);
    }
    p
}

#[test]
fn reassembles_out_of_order_and_retransmitted_segments() {
    let c = [172, 18, 0, 3];
    let s = [172, 18, 0, 2];
    // Wraps inside the stream, and the first segment is captured after the later ones.
    let seq = u32::MAX - 3;
    let p = pcap(&[
        frame(c, 40000, s, 6667, seq.wrapping_add(8), b"bob :hi\r\n"),
        frame(c, 40000, s, 6667, seq.wrapping_add(4), b"MSG "),
        frame(c, 40000, s, 6667, seq, b"PRIV"),
        frame(c, 40000, s, 6667, seq, b"PRIV"),
        frame(s, 6667, c, 40000, 77, b":irc.test 001\r\n"),
        frame(c, 40001, s, 6667, 5, b"NICK x\r\n"),
        frame(c, 40001, s, 9999, 5, b"ignored"),
    ]);
    let st = streams(&p, 6667).unwrap();
    assert_eq!(st.len(), 2);
    assert_eq!(st[0].to_server, b"PRIVMSG bob :hi\r\n");
    assert_eq!(st[0].to_client, b":irc.test 001\r\n");
    assert_eq!(st[0].missing, 0);
    assert_eq!(st[0].client.unwrap().port(), 40000);
    assert_eq!(st[1].to_server, b"NICK x\r\n");
}

#[test]
fn a_hole_is_counted_and_a_cut_record_ignored() {
    let c = [10, 0, 0, 1];
    let s = [10, 0, 0, 2];
    let mut p = pcap(&[
        frame(c, 1, s, 6667, 100, b"ab"),
        frame(c, 1, s, 6667, 105, b"fg"),
    ]);
    p.extend_from_slice(&[0u8; 20]); // a record header without its frame
    let st = streams(&p, 6667).unwrap();
    assert_eq!(st[0].to_server, b"abfg");
    assert_eq!(st[0].missing, 3);
    assert!(streams(b"not a capture file", 6667).is_err());
}

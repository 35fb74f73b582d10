//! The wire auditor for containers: TCP streams reassembled from a capture file that
//! `tcpdump -w` wrote on the Docker network's bridge (classic pcap, Ethernet, IPv4).
//!
//! Containers talk to the IRC server across the bridge, so a capture there sees every byte
//! that a network observer would, without a proxy in the path.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};

/// One TCP connection to the watched port, both directions in sequence order.
#[derive(Debug, Default, Clone)]
pub struct Stream {
    /// The connecting side.
    pub client: Option<SocketAddrV4>,
    /// The server side (the watched port).
    pub server: Option<SocketAddrV4>,
    /// Bytes from the client to the server.
    pub to_server: Vec<u8>,
    /// Bytes from the server to the client.
    pub to_client: Vec<u8>,
    /// Bytes missing from the capture (holes in the sequence space); 0 for a whole stream.
    pub missing: usize,
}

impl Stream {
    /// One line for failure messages: who to whom, bytes each way.
    pub fn summary(&self) -> String {
        let show = |a: Option<SocketAddrV4>| a.map_or("?".to_string(), |a| a.to_string());
        format!(
            "{} -> {}: {} bytes up, {} down, {} missing",
            show(self.client),
            show(self.server),
            self.to_server.len(),
            self.to_client.len(),
            self.missing
        )
    }
}

#[derive(Default)]
struct Half {
    segments: Vec<(u32, Vec<u8>)>,
}

impl Half {
    /// The payload in sequence order, and how many bytes were never captured.
    fn assemble(mut self) -> (Vec<u8>, usize) {
        // Sequence numbers relative to the earliest segment: the first one captured, moved
        // back by any captured later that lies before it (a short test connection spans far
        // less than 2^31 bytes, but its initial number may be anywhere, so it can wrap).
        let Some(&(first, _)) = self.segments.first() else {
            return (Vec::new(), 0);
        };
        let back = self
            .segments
            .iter()
            .map(|(s, _)| s.wrapping_sub(first) as i32)
            .min()
            .unwrap_or(0)
            .min(0);
        let base = first.wrapping_add(back as u32);
        self.segments.sort_by_key(|(s, _)| s.wrapping_sub(base));
        let mut out = Vec::new();
        let mut missing = 0usize;
        let mut next = 0u32;
        for (seq, data) in self.segments {
            let rel = seq.wrapping_sub(base);
            let end = rel.wrapping_add(data.len() as u32);
            if end <= next {
                continue; // a retransmission of bytes already taken
            }
            if rel > next {
                missing += (rel - next) as usize;
                out.extend_from_slice(&data);
            } else {
                out.extend_from_slice(&data[(next - rel) as usize..]);
            }
            next = end;
        }
        (out, missing)
    }
}

fn u16_be(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_be(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The TCP payload of one Ethernet frame carrying IPv4: (source, destination, seq, payload).
fn tcp_of_frame(frame: &[u8]) -> Option<(SocketAddrV4, SocketAddrV4, u32, &[u8])> {
    if u16_be(frame, 12)? != 0x0800 {
        return None;
    }
    let ip = frame.get(14..)?;
    let ihl = usize::from(ip.first()? & 0x0f) * 4;
    if ip.first()? >> 4 != 4 || *ip.get(9)? != 6 {
        return None;
    }
    let total = usize::from(u16_be(ip, 2)?);
    let ip = ip.get(..total.min(ip.len()))?;
    if ip.len() < 20 || ihl < 20 {
        return None;
    }
    let src = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
    let dst = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
    let tcp = ip.get(ihl..)?;
    let sport = u16_be(tcp, 0)?;
    let dport = u16_be(tcp, 2)?;
    let seq = u32_be(tcp, 4)?;
    let off = usize::from(tcp.get(12)? >> 4) * 4;
    let payload = tcp.get(off..)?;
    Some((
        SocketAddrV4::new(src, sport),
        SocketAddrV4::new(dst, dport),
        seq,
        payload,
    ))
}

/// Every TCP connection to `port` in a pcap file, in the order they first appear. Errors on
/// a file that is not a little- or big-endian Ethernet pcap.
pub fn streams(pcap: &[u8], port: u16) -> Result<Vec<Stream>, String> {
    let magic = pcap.get(..4).ok_or("capture shorter than its header")?;
    let le = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
        _ => return Err(format!("not a pcap file (magic {magic:02x?})")),
    };
    let rd = |at: usize| -> Option<u32> {
        let b: [u8; 4] = pcap.get(at..at + 4)?.try_into().ok()?;
        Some(if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    };
    let link = rd(20).ok_or("truncated header")?;
    if link != 1 {
        return Err(format!("link type {link}, not Ethernet"));
    }
    // Keyed by (client, server); the value keeps first-seen order.
    let mut halves: BTreeMap<(SocketAddrV4, SocketAddrV4), (usize, Half, Half)> = BTreeMap::new();
    let mut at = 24;
    while let Some(incl) = rd(at + 8) {
        let start = at + 16;
        let end = start + incl as usize;
        let Some(frame) = pcap.get(start..end) else {
            break; // the last record was cut by killing tcpdump
        };
        at = end;
        let Some((src, dst, seq, payload)) = tcp_of_frame(frame) else {
            continue;
        };
        if payload.is_empty() {
            continue;
        }
        let (key, to_server) = if dst.port() == port {
            ((src, dst), true)
        } else if src.port() == port {
            ((dst, src), false)
        } else {
            continue;
        };
        let n = halves.len();
        let entry = halves
            .entry(key)
            .or_insert_with(|| (n, Half::default(), Half::default()));
        let half = if to_server {
            &mut entry.1
        } else {
            &mut entry.2
        };
        half.segments.push((seq, payload.to_vec()));
    }
    let mut out: Vec<(usize, Stream)> = halves
        .into_iter()
        .map(|((client, server), (order, up, down))| {
            let (to_server, m1) = up.assemble();
            let (to_client, m2) = down.assemble();
            (
                order,
                Stream {
                    client: Some(client),
                    server: Some(server),
                    to_server,
                    to_client,
                    missing: m1 + m2,
                },
            )
        })
        .collect();
    out.sort_by_key(|(o, _)| *o);
    Ok(out.into_iter().map(|(_, s)| s).collect())
}

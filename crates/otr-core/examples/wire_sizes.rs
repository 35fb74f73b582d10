//! Prints the wire cost of OTRv4+: DAKE bytes for a first and a repeat contact, data message
//! sizes, and the IRC lines each needs at a 400-byte line budget (the table in
//! docs/PROTOCOL.md §11, which `tests/protocol_doc.rs` keeps in sync).
//!
//! Run: `cargo run --release -p otr-core --features test-utils --example wire_sizes`

use otr_core::testing::{wire_size_markdown, wire_size_table};

fn main() {
    let budget = 400;
    println!("Line budget: {budget} bytes of PRIVMSG text per line.\n");
    print!("{}", wire_size_markdown(&wire_size_table(budget)));
}

//! otrbnc: a transparent IRC bouncer with in-line OTRv4+.

fn main() {
    println!(
        "otrbnc {}: the OTRv4+ protocol core is built (crates/otr-core); \
         the IRC proxy is not implemented yet.",
        env!("CARGO_PKG_VERSION")
    );
}

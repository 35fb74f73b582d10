//! `otrbnc::network::split_args`: the shell-style splitting of `*otr` command lines, which
//! come straight from the client.
//!
//! The first byte selects the mode; the rest is the input.
//!
//! * Mode even — the rest (lossy UTF-8) is a command line. Never panics; without `"` the
//!   result is exactly `split_whitespace` (`\` escapes only inside quotes); the characters
//!   of all arguments, in order, are a subsequence of the input's (nothing is invented); and
//!   there are at most as many arguments as whitespace-separated words (quotes only join).
//! * Mode odd — the rest is a list of arguments (separated by `\n`), each quoted as a user
//!   would (`"` around, `\` before `"` and `\`) and joined by a run of whitespace chosen from
//!   the input; splitting that gives the list back exactly (the round trip).
#![no_main]

use otrbnc::network::split_args;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check(data));

fn quote(arg: &str) -> String {
    let mut q = String::with_capacity(arg.len() + 2);
    q.push('"');
    for c in arg.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

fn check(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    if mode & 1 == 0 {
        let args = split_args(&text);
        let words: Vec<&str> = text.split_whitespace().collect();
        if !text.contains('"') {
            // Backslashes only escape inside quotes.
            assert_eq!(args, words, "no quotes: not split_whitespace");
        }
        // Subsequence: every argument character is found, in order, in the input.
        let mut src = text.chars();
        for a in &args {
            for c in a.chars() {
                assert!(
                    src.any(|s| s == c),
                    "argument character {c:?} is not from the input"
                );
            }
        }
        // Arguments end only at unquoted whitespace, and each starts with a character that
        // is not: at most one argument per whitespace-separated word.
        assert!(
            args.len() <= words.len(),
            "{} arguments from {} words in {text:?}",
            args.len(),
            words.len()
        );
    } else {
        let seps = [" ", "  ", "\t", " \u{3000} "];
        let sep = seps[usize::from(mode >> 1) % seps.len()];
        let list: Vec<&str> = text.split('\n').collect();
        let line: Vec<String> = list.iter().map(|a| quote(a)).collect();
        let line = format!("{sep}{}{sep}", line.join(sep));
        let args = split_args(&line);
        assert_eq!(args, list, "quoted round trip through {line:?}");
    }
}

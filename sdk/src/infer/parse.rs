//! Reading the choice from an answer: the study's pattern "Video N is noticeably different".
//!
//! Rules (docs/judges.md):
//! - case is ignored; between "video", the number, "is", "noticeably" and "different" any run of
//!   characters that are neither letters nor digits may stand (spaces, `+`, `_`, `:`, `*`, `[`,
//!   ...), so "**Video 2** is noticeably different", "video+2 is noticeably different" and
//!   "[Video_2] is *noticeably* different" all name video 2;
//! - "video" must start a word ("myvideo 2 ..." does not count);
//! - text inside `<think>...</think>` (reasoning models) is ignored;
//! - the answer is parsed when every match names the same video N with 1 <= N <= 3; it is
//!   unparsed when no match is found, when matches name different videos, or when a match names
//!   a video outside 1..=3. Nothing is ever guessed.

/// The shown position (0, 1 or 2) the answer names as odd, or `None` (unparsed).
pub fn parse_choice(answer: &str) -> Option<usize> {
    let text: Vec<char> = strip_think(answer).to_lowercase().chars().collect();
    let mut named: Option<u64> = None;
    let mut i = 0;
    while let Some(k) = find(&text, i, "video") {
        i = k + 5;
        if k > 0 && text[k - 1].is_alphanumeric() {
            continue;
        }
        if let Some(n) = match_after_video(&text, k + 5) {
            match named {
                None => named = Some(n),
                Some(m) if m == n => {}
                Some(_) => return None,
            }
        }
    }
    match named {
        Some(n @ 1..=3) => Some(n as usize - 1),
        _ => None,
    }
}

/// Drop `<think>...</think>` blocks (an unclosed one runs to the end).
fn strip_think(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    loop {
        let lower = rest.to_ascii_lowercase();
        match lower.find("<think>") {
            None => {
                out.push_str(rest);
                return out;
            }
            Some(a) => {
                out.push_str(&rest[..a]);
                match lower[a..].find("</think>") {
                    Some(b) => rest = &rest[a + b + "</think>".len()..],
                    None => return out,
                }
            }
        }
    }
}

fn find(text: &[char], from: usize, word: &str) -> Option<usize> {
    let w: Vec<char> = word.chars().collect();
    if text.len() < w.len() {
        return None;
    }
    (from..=text.len() - w.len()).find(|&k| text[k..k + w.len()] == w[..])
}

/// Skip characters that are neither letters nor digits (at most 12: markup, not prose).
fn skip_sep(text: &[char], mut i: usize) -> usize {
    let start = i;
    while i < text.len() && !text[i].is_alphanumeric() && i - start < 12 {
        i += 1;
    }
    i
}

fn expect_word(text: &[char], i: usize, word: &str) -> Option<usize> {
    let n = word.chars().count();
    if i + n <= text.len() && text[i..i + n].iter().copied().eq(word.chars()) {
        let end = i + n;
        // A whole word: "is" must not be the start of "isn't".
        if end < text.len() && text[end].is_alphanumeric() {
            return None;
        }
        Some(end)
    } else {
        None
    }
}

/// After "video": separators, a number, separators, "is", "noticeably", "different".
fn match_after_video(text: &[char], i: usize) -> Option<u64> {
    let mut i = skip_sep(text, i);
    let d0 = i;
    while i < text.len() && text[i].is_ascii_digit() {
        i += 1;
    }
    if i == d0 || i - d0 > 6 || (i < text.len() && text[i].is_alphabetic()) {
        return None;
    }
    let n: u64 = text[d0..i].iter().collect::<String>().parse().ok()?;
    let i = skip_sep(text, i);
    let i = expect_word(text, i, "is")?;
    let i = skip_sep(text, i);
    let i = expect_word(text, i, "noticeably")?;
    let i = skip_sep(text, i);
    expect_word(text, i, "different")?;
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::parse_choice as p;

    #[test]
    fn the_study_pattern_and_its_markdown_variants() {
        assert_eq!(
            p("Video 2 is noticeably different from the other two."),
            Some(1)
        );
        assert_eq!(p("**Video 3** is noticeably different"), Some(2));
        assert_eq!(
            p("video+1 is noticeably different from the other two"),
            Some(0)
        );
        assert_eq!(p("VIDEO 1 IS NOTICEABLY DIFFERENT"), Some(0));
        assert_eq!(p("[Video_2] is *noticeably* different."), Some(1));
        assert_eq!(
            p("Answer: \"Video 3 is noticeably different from the other two\""),
            Some(2)
        );
        assert_eq!(p("### Video 2: is noticeably different"), Some(1));
        assert_eq!(
            p("Video 1 shows joy. Video 2 shows joy.\nVideo 3 is noticeably different from the other two, because ..."),
            Some(2)
        );
        // The same video named twice is still one choice.
        assert_eq!(
            p("Video 2 is noticeably different. In short, Video 2 is noticeably different."),
            Some(1)
        );
    }

    #[test]
    fn no_guessing() {
        assert_eq!(p("I cannot decide."), None);
        assert_eq!(p("Video 2 is the odd one out."), None);
        assert_eq!(p("Video 2 is different."), None);
        assert_eq!(
            p("Video 1 is noticeably different, or maybe Video 3 is noticeably different."),
            None
        );
        assert_eq!(
            p("Video 4 is noticeably different from the other two"),
            None
        );
        assert_eq!(p("Video 0 is noticeably different"), None);
        assert_eq!(p("Video 1 is not noticeably different"), None);
        assert_eq!(
            p("(The answer format is \"Video+ID is noticeably different\")"),
            None
        );
        assert_eq!(p("myvideo 2 is noticeably different"), None);
        assert_eq!(p("Video 2a is noticeably different"), None);
        assert_eq!(p(""), None);
    }

    #[test]
    fn reasoning_blocks_are_ignored() {
        assert_eq!(
            p("<think>Maybe Video 1 is noticeably different? No.</think>Video 3 is noticeably different from the other two."),
            Some(2)
        );
        assert_eq!(p("<think>Video 1 is noticeably different"), None);
    }
}

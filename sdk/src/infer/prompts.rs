//! The study's odd-one-out prompts, verbatim (docs/judges.md; the Methods' "/n" is a line
//! break), and user templates.
//!
//! A template is one text with three slots, `{video_1}`, `{video_2}` and `{video_3}`, for the
//! videos in the order shown. For a language model each slot is replaced by the caption drawn
//! for that video; for a vision-language model the text is cut at the slots and the videos go
//! there as content parts. Every slot must appear (a template without them would ask about
//! nothing); `{video_N}` with N outside 1..=3 is an error; any other brace is plain text.
use crate::error::Result;
use crate::{bail, ensure};

/// LLM, text input 1.
pub const LLM_TEXT_1: &str = "Now we need to perform a role-playing task. Your role is an expert in analyzing the emotions conveyed in videos, each video is replaced by its corresponding textual description.\n\
Firstly, please describe your evoked emotional response of each of these videos individually. Then, tell me Which video evokes an emotional response that is noticeably different from the other two? Never be influenced by the video index when making judgments. (The answer format is \"Video+ID is noticeably different from the other two.\") Explain the reason for this difference.\n\
Precautions: 1. You should focus your judgement on the emotional tone, never be influenced by the video index when making judgments.\n\
2. Assume you are an emotional judgment expert with the ability to feel specific emotions for each video. Do not provide ambiguous answers. Never be influenced by the video index when making judgments.\n\
3. You are not given additional constraints as to the strategy you should use.";

/// LLM, text input 2: the Methods' `{[Video_1: caption_1], [Video_2: caption_2], [Video_3:
/// caption_3]}`, where the braces denote the input (as they do around the MLLM's video input)
/// and each caption fills its slot.
pub const LLM_TEXT_2: &str = "[Video_1: {video_1}], [Video_2: {video_2}], [Video_3: {video_3}]";

/// MLLM, text input 1 (before the three videos).
pub const MLLM_TEXT_1: &str = "Now we need to perform a role-playing task. Your role is an expert in analyzing the emotions conveyed in videos.\n\n\
Firstly, please describe the content and your evoked emotional response of each of these videos individually.";

/// MLLM, text input 2 (after the three videos).
pub const MLLM_TEXT_2: &str = "Then, tell me Which clip evokes an emotional response that is noticeably different from the other two? (The answer format is \"Video+ID is noticeably different from the other two\") Explain the reason for this difference.\n\
Precautions:\n\n\
1. You should focus your judgement on the emotional tone, never be influenced by the video index or location when making judgments. 2. Assume you are an emotional judgment expert with the ability to feel specific emotions for each video. Do not provide ambiguous answers. Never be influenced by the video index or location when making judgments. 3. You are not given additional constraints as to the strategy you should use.";

/// The early MLLM template (all videos first, then one block of text) that made the model prefer
/// the last item: for positional-bias studies.
pub const MLLM_EARLY: &str = "Now we need to perform a role-playing task. Your role is an expert in analyzing the emotions conveyed in videos.\n\
Firstly, please describe the content and your evoked emotional response of each of these videos individually. Then, tell me Which clip evokes an emotional response that is noticeably different from the other two? (The answer format is \"Video+ID is noticeably different from the other two\") Explain the reason for this difference.";

/// The study's LLM prompt as a template: text 1, a line break, text 2 (one user message).
pub fn llm_study() -> String {
    format!("{LLM_TEXT_1}\n{LLM_TEXT_2}")
}

/// The study's interleaved MLLM prompt: text 1, the three videos, text 2.
pub fn mllm_study() -> String {
    format!("{MLLM_TEXT_1}\n{{video_1}}{{video_2}}{{video_3}}\n{MLLM_TEXT_2}")
}

/// The early (biased) MLLM template: the three videos, then the text.
pub fn mllm_early() -> String {
    format!("{{video_1}}{{video_2}}{{video_3}}\n{MLLM_EARLY}")
}

/// A piece of a parsed template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    /// Literal text.
    Text(String),
    /// Slot for the video at this shown position (0, 1, 2).
    Slot(usize),
}

/// A checked template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    /// The template as written.
    pub source: String,
    /// Its text and placeholders, in order.
    pub pieces: Vec<Piece>,
}

impl Template {
    /// Parse and check a template: each of `{video_1}`, `{video_2}`, `{video_3}` at least once.
    pub fn parse(source: &str) -> Result<Template> {
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut seen = [false; 3];
        let mut rest = source;
        while let Some(k) = rest.find("{video_") {
            text.push_str(&rest[..k]);
            let after = &rest[k + "{video_".len()..];
            let digits: String = after.chars().take_while(|c| c.is_ascii_digit()).collect();
            let close = after[digits.len()..].starts_with('}');
            if digits.is_empty() || !close {
                // Not a slot: keep it as text.
                text.push_str("{video_");
                rest = after;
                continue;
            }
            let n: usize = digits.parse().unwrap_or(0);
            ensure!(
                (1..=3).contains(&n),
                "template slot {{video_{digits}}} does not exist: the slots are {{video_1}}, {{video_2}} and {{video_3}} (the videos in the order shown)"
            );
            seen[n - 1] = true;
            if !text.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut text)));
            }
            pieces.push(Piece::Slot(n - 1));
            rest = &after[digits.len() + 1..];
        }
        text.push_str(rest);
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        let missing: Vec<String> = (0..3)
            .filter(|&i| !seen[i])
            .map(|i| format!("{{video_{}}}", i + 1))
            .collect();
        if !missing.is_empty() {
            bail!(
                "the template lacks the slot{} {}: a template must contain {{video_1}}, {{video_2}} and {{video_3}}, where the three videos (or their captions) go in the order shown",
                if missing.len() > 1 { "s" } else { "" },
                missing.join(", ")
            );
        }
        Ok(Template {
            source: source.to_string(),
            pieces,
        })
    }

    /// Fill every slot with text (one pass: a caption that itself contains "{video_2}" stays as
    /// it is).
    pub fn render(&self, fill: [&str; 3]) -> String {
        let mut out =
            String::with_capacity(self.source.len() + fill.iter().map(|s| s.len()).sum::<usize>());
        for p in &self.pieces {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Slot(i) => out.push_str(fill[*i]),
            }
        }
        out
    }

    /// The sha256 of the template text, recorded with every judgement.
    pub fn sha256(&self) -> String {
        crate::io::sha256_bytes(self.source.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_study_llm_prompt_renders_as_the_methods_write_it() {
        let t = Template::parse(&llm_study()).unwrap();
        let s = t.render(["A man laughs.", "A dog {video_2} barks.", "Rain falls."]);
        assert!(s.starts_with("Now we need to perform a role-playing task. Your role is an expert in analyzing the emotions conveyed in videos, each video is replaced by its corresponding textual description.\nFirstly,"));
        assert!(s.ends_with("3. You are not given additional constraints as to the strategy you should use.\n[Video_1: A man laughs.], [Video_2: A dog {video_2} barks.], [Video_3: Rain falls.]"), "{s}");
        assert_eq!(s.matches('\n').count(), 5);
    }

    #[test]
    fn mllm_templates_interleave() {
        let t = Template::parse(&mllm_study()).unwrap();
        assert_eq!(t.pieces.len(), 5);
        assert_eq!(t.pieces[1], Piece::Slot(0));
        assert_eq!(t.pieces[3], Piece::Slot(2));
        assert!(
            matches!(&t.pieces[4], Piece::Text(x) if x.contains("Precautions:\n\n1. You should"))
        );
        let e = Template::parse(&mllm_early()).unwrap();
        assert_eq!(e.pieces[0], Piece::Slot(0));
    }

    #[test]
    fn templates_without_slots_are_errors() {
        let e = Template::parse("Which is odd?").unwrap_err().to_string();
        assert!(e.contains("{video_1}, {video_2}, {video_3}"), "{e}");
        let e = Template::parse("{video_1} {video_3}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("lacks the slot {video_2}"), "{e}");
        let e = Template::parse("{video_1} {video_2} {video_3} {video_4}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("{video_4}"), "{e}");
        // Other braces are text.
        let t = Template::parse("{\"a\": 1} {video_1}{video_2}{video_3} {video_x}").unwrap();
        assert_eq!(t.render(["1", "2", "3"]), "{\"a\": 1} 123 {video_x}");
    }
}

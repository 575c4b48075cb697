//! Video frames for vision-language models, decoded with ffmpeg.
//!
//! The study showed each video to the model as frames resized to 256×256 pixels, sampled at a
//! rate set by the duration `d` in seconds (Eq. 1, [`frame_rate`]): 2 fps if `d ≤ 5`, 1 fps if
//! `5 < d ≤ 15`, 0.5 fps if `15 < d ≤ 20` and 0.2 fps beyond.
//!
//! **Which frames.** At rate `R` the sampling times are the midpoints of the `1/R`-long slots,
//! `t_k = (k + 0.5) / R` for `k = 0, 1, …` while `t_k < d`; the count is therefore
//! `n = ceil(d·R − 0.5)`, i.e. `d·R` rounded to the nearest integer with exact halves rounded
//! down (3 s → 6 frames, 8 s → 8, 17 s → 8, 30 s → 6). A video too short for any slot
//! midpoint (`d·R ≤ 0.5`) gives one frame at `d / 2`. The frame shown for `t_k` is the first
//! decoded frame whose presentation time is `≥ t_k` (ffmpeg's accurate input seek, `-ss t_k`),
//! or the last frame when `t_k` falls after the start of the last frame. [`Frame::time_s`] is
//! the sampling time `t_k`. With `max_frames = m < n`, `m` of the `n` times are kept, spread
//! evenly: `k_j = floor((j + 0.5)·n / m)`.
//!
//! **Size.** Every frame is scaled to exactly `size × size` (256 by default) with bicubic
//! filtering, ignoring the aspect ratio (the study "resized to 256×256"; no crop, no padding),
//! and returned as an 8-bit RGB PNG.
//!
//! **ffmpeg.** `ffprobe` and `ffmpeg` run as subprocesses (no shell, `-nostdin -hide_banner
//! -loglevel error`), from `PATH` or from the `EMOSCOPE_FFMPEG` / `EMOSCOPE_FFPROBE`
//! environment variables. On Debian/Ubuntu: `apt-get install ffmpeg`.
use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use crate::error::{Error, Result};
use crate::{bail, ensure};

/// Eq. 1 of the study: the frame-sampling rate (frames per second) for a video of
/// `duration_s` seconds: 2 if `d ≤ 5`, 1 if `5 < d ≤ 15`, 0.5 if `15 < d ≤ 20`, 0.2 beyond.
pub fn frame_rate(duration_s: f64) -> f64 {
    if duration_s <= 5.0 {
        2.0
    } else if duration_s <= 15.0 {
        1.0
    } else if duration_s <= 20.0 {
        0.5
    } else {
        0.2
    }
}

/// How to sample frames.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameOpts {
    /// Width and height of every frame in pixels (the study: 256).
    pub size: u32,
    /// Frames per second; `None` = Eq. 1 of the video's duration ([`frame_rate`]).
    pub fps: Option<f64>,
    /// At most this many frames, spread evenly over the sampled times; `None` = no limit.
    pub max_frames: Option<usize>,
}

impl Default for FrameOpts {
    fn default() -> Self {
        FrameOpts {
            size: 256,
            fps: None,
            max_frames: None,
        }
    }
}

/// One sampled frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// The sampling time in seconds from the start of the video (`(k + 0.5) / fps`).
    pub time_s: f64,
    /// The frame as a `size × size` 8-bit RGB PNG.
    pub png: Vec<u8>,
}

/// The duration of a video in seconds, by `ffprobe`: the first video stream's duration, or
/// the container's when the stream does not record one.
pub fn probe_duration(path: &Path) -> Result<f64> {
    check_readable(path)?;
    let mut args: Vec<OsString> = [
        "-show_entries",
        "stream=codec_type,duration:format=duration",
        "-of",
        "json",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    args.push(input_arg(path));
    let out = run_tool(Tool::Ffprobe, &args, None)
        .map_err(|e| e.context(format!("probing video {}", path.display())))?;
    let v: serde_json::Value = serde_json::from_slice(&out).map_err(|e| {
        Error::msg(format!(
            "probing video {}: ffprobe printed unreadable JSON: {e}",
            path.display()
        ))
    })?;
    let num = |x: Option<&serde_json::Value>| -> Option<f64> {
        let x = x?;
        let d = match x {
            serde_json::Value::String(s) => s.trim().parse::<f64>().ok()?,
            serde_json::Value::Number(n) => n.as_f64()?,
            _ => return None,
        };
        (d.is_finite() && d > 0.0).then_some(d)
    };
    let streams = v
        .get("streams")
        .and_then(|s| s.as_array())
        .cloned()
        .unwrap_or_default();
    let video = streams
        .iter()
        .find(|s| s.get("codec_type").and_then(|t| t.as_str()) == Some("video"));
    let Some(video) = video else {
        bail!(
            "{} has no video stream (is it a video file?)",
            path.display()
        );
    };
    let d =
        num(video.get("duration")).or_else(|| num(v.get("format").and_then(|f| f.get("duration"))));
    match d {
        Some(d) => Ok(d),
        None => bail!(
            "{}: ffprobe reports no duration for its video stream (a still image, or a damaged video?)",
            path.display()
        ),
    }
}

/// The sampling times (seconds) for a video of `duration_s` seconds: see the module docs.
fn sample_times(duration_s: f64, fps: f64, max_frames: Option<usize>) -> Vec<f64> {
    // n = ceil(d·R − 0.5), with a little slack so that d·R = 6.000000001 from a probed
    // duration does not add a frame.
    let n = ((duration_s * fps - 0.5) - 1e-9).ceil().max(0.0) as usize;
    let all: Vec<f64> = if n == 0 {
        vec![duration_s / 2.0]
    } else {
        (0..n).map(|k| (k as f64 + 0.5) / fps).collect()
    };
    match max_frames {
        Some(m) if m < all.len() => {
            let n = all.len();
            (0..m)
                .map(|j| all[((j as f64 + 0.5) * n as f64 / m as f64).floor() as usize])
                .collect()
        }
        _ => all,
    }
}

fn check_opts(opts: &FrameOpts) -> Result<()> {
    ensure!(
        opts.size >= 1 && opts.size <= 8192,
        "frame size must be 1 to 8192 pixels, not {}",
        opts.size
    );
    if let Some(f) = opts.fps {
        ensure!(
            f.is_finite() && f > 0.0,
            "fps must be a positive number, not {f}"
        );
    }
    if let Some(m) = opts.max_frames {
        ensure!(m >= 1, "max_frames must be at least 1");
    }
    Ok(())
}

/// Sample frames from the video at `path` (see the module docs for which frames), each
/// scaled to `opts.size × opts.size` and encoded as an RGB PNG, in time order.
pub fn sample_frames(path: &Path, opts: &FrameOpts) -> Result<Vec<Frame>> {
    check_opts(opts)?;
    let d = probe_duration(path)?;
    let fps = opts.fps.unwrap_or_else(|| frame_rate(d));
    let times = sample_times(d, fps, opts.max_frames);
    let n = times.len();
    let threads = std::thread::available_parallelism()
        .map_or(1, |p| p.get())
        .clamp(1, 4)
        .min(n);
    let next = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<Result<Vec<u8>>>>> = Mutex::new((0..n).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let r = frame_at(path, times[i], opts.size);
                let failed = r.is_err();
                slots.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(r);
                if failed {
                    // Stop handing out work; the first error is reported below.
                    next.store(n, Ordering::Relaxed);
                }
            });
        }
    });
    let slots = slots.into_inner().unwrap_or_else(|p| p.into_inner());
    let mut frames = Vec::with_capacity(n);
    for (t, slot) in times.into_iter().zip(slots) {
        match slot {
            Some(Ok(png)) => frames.push(Frame { time_s: t, png }),
            Some(Err(e)) => {
                return Err(e.context(format!("frame at {t:.3} s of {}", path.display())))
            }
            None => {} // not started because another frame failed; that error comes first
        }
    }
    ensure!(
        frames.len() == n,
        "internal: {} of {n} frames decoded",
        frames.len()
    );
    Ok(frames)
}

fn scale_filter(size: u32) -> String {
    format!("scale={size}:{size}:flags=bicubic,setsar=1,format=rgb24")
}

/// One PNG: the first frame at or after `t`, or the last frame when there is none.
fn frame_at(path: &Path, t: f64, size: u32) -> Result<Vec<u8>> {
    let mut args: Vec<OsString> = vec!["-ss".into(), format!("{t:.6}").into()];
    args.push("-i".into());
    args.push(input_arg(path));
    for a in [
        "-map",
        "0:v:0",
        "-frames:v",
        "1",
        "-an",
        "-sn",
        "-dn",
        "-vf",
    ] {
        args.push(a.into());
    }
    args.push(scale_filter(size).into());
    for a in ["-pix_fmt", "rgb24", "-c:v", "png", "-f", "image2pipe", "-"] {
        args.push(a.into());
    }
    let png = run_tool(Tool::Ffmpeg, &args, None)?;
    if !png.is_empty() {
        return Ok(png);
    }
    // t lies after the start of the last frame: decode the last second backwards, keep one.
    let mut args: Vec<OsString> = vec!["-sseof".into(), "-1".into(), "-i".into(), input_arg(path)];
    for a in [
        "-map",
        "0:v:0",
        "-frames:v",
        "1",
        "-an",
        "-sn",
        "-dn",
        "-vf",
    ] {
        args.push(a.into());
    }
    args.push(format!("reverse,{}", scale_filter(size)).into());
    for a in ["-pix_fmt", "rgb24", "-c:v", "png", "-f", "image2pipe", "-"] {
        args.push(a.into());
    }
    let png = run_tool(Tool::Ffmpeg, &args, None)?;
    ensure!(
        !png.is_empty(),
        "ffmpeg decoded no frame at {t:.3} s nor at the end of {}",
        path.display()
    );
    Ok(png)
}

/// The sampled frames ([`sample_frames`]) re-encoded as a small `size × size` MP4 at the
/// sampling rate (so it plays for about the original duration), for servers that take video
/// input: H.264 (libx264, yuv420p, `+faststart`) when ffmpeg has it, MPEG-4 part 2 otherwise.
/// `size` must be even (4:2:0 chroma).
pub fn encode_video_mp4(path: &Path, opts: &FrameOpts) -> Result<Vec<u8>> {
    check_opts(opts)?;
    ensure!(
        opts.size & 1 == 0,
        "an mp4 needs an even frame size, not {}",
        opts.size
    );
    let frames = sample_frames(path, opts)?;
    // The rate the frames play at: the sampling rate, whatever max_frames kept.
    let fps = match opts.fps {
        Some(f) => f,
        None => frame_rate(probe_duration(path)?),
    };
    let rate = if frames.len() >= 2 {
        // With max_frames the kept frames are further apart; play them at their real spacing.
        let span = frames[frames.len() - 1].time_s - frames[0].time_s;
        if span > 0.0 {
            (frames.len() - 1) as f64 / span
        } else {
            fps
        }
    } else {
        fps
    };
    let dir = TempDir::new()?;
    let out = dir.path().join("video.mp4");
    let mut input = Vec::new();
    for f in &frames {
        input.extend_from_slice(&f.png);
    }
    let mut args: Vec<OsString> = vec![
        "-y".into(),
        "-f".into(),
        "image2pipe".into(),
        "-c:v".into(),
        "png".into(),
    ];
    args.push("-framerate".into());
    args.push(format!("{rate:.6}").into());
    for a in ["-i", "-", "-an", "-vf"] {
        args.push(a.into());
    }
    args.push(format!("scale={0}:{0},setsar=1", opts.size).into());
    let codec: &[&str] = if has_libx264() {
        &[
            "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
        ]
    } else {
        &["-c:v", "mpeg4", "-q:v", "3", "-pix_fmt", "yuv420p"]
    };
    for a in codec
        .iter()
        .chain(&["-movflags", "+faststart", "-f", "mp4"])
    {
        args.push(a.into());
    }
    args.push(out.clone().into_os_string());
    run_tool(Tool::Ffmpeg, &args, Some(input))
        .map_err(|e| e.context(format!("encoding the frames of {} as mp4", path.display())))?;
    let bytes = std::fs::read(&out)
        .map_err(|e| Error::msg(format!("reading the encoded mp4 {}: {e}", out.display())))?;
    ensure!(
        !bytes.is_empty(),
        "ffmpeg wrote an empty mp4 for {}",
        path.display()
    );
    Ok(bytes)
}

// ---------------------------------------------------------------------------------------------
// Running ffmpeg / ffprobe.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tool {
    Ffmpeg,
    Ffprobe,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::Ffmpeg => "ffmpeg",
            Tool::Ffprobe => "ffprobe",
        }
    }
    fn program(self) -> OsString {
        let var = match self {
            Tool::Ffmpeg => "EMOSCOPE_FFMPEG",
            Tool::Ffprobe => "EMOSCOPE_FFPROBE",
        };
        std::env::var_os(var)
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| self.name().into())
    }
}

/// `./name` for relative paths, so that a file called `-x.mp4` is not read as an option.
fn input_arg(path: &Path) -> OsString {
    if path.is_absolute() || path.starts_with(".") {
        path.as_os_str().to_owned()
    } else {
        Path::new(".").join(path).into_os_string()
    }
}

fn check_readable(path: &Path) -> Result<()> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("video file not found: {}", path.display())
        }
        Err(e) => bail!("cannot read video file {}: {e}", path.display()),
        Ok(m) if m.is_dir() => bail!("{} is a directory, not a video file", path.display()),
        Ok(_) => {}
    }
    if let Err(e) = std::fs::File::open(path) {
        bail!("cannot read video file {}: {e}", path.display());
    }
    Ok(())
}

/// Kills and reaps the child unless it was waited for.
struct Reaper(Option<Child>);

impl Drop for Reaper {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The last `n` non-empty lines of `stderr`.
fn tail(stderr: &[u8], n: usize) -> String {
    let s = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = s
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn missing_tool(tool: Tool, program: &OsString) -> Error {
    Error::msg(format!(
        "{} not found (tried `{}`): install ffmpeg, which provides ffmpeg and ffprobe \
         (Debian/Ubuntu: `apt-get install ffmpeg`; macOS: `brew install ffmpeg`), or set {} \
         to its path",
        tool.name(),
        program.to_string_lossy(),
        match tool {
            Tool::Ffmpeg => "EMOSCOPE_FFMPEG",
            Tool::Ffprobe => "EMOSCOPE_FFPROBE",
        }
    ))
}

/// Run `tool args` without a shell; feed `stdin` (or nothing), return stdout. A non-zero exit
/// becomes an error with the last lines of stderr.
fn run_tool(tool: Tool, args: &[OsString], stdin: Option<Vec<u8>>) -> Result<Vec<u8>> {
    run_program(tool, &tool.program(), args, stdin)
}

fn run_program(
    tool: Tool,
    program: &OsString,
    args: &[OsString],
    stdin: Option<Vec<u8>>,
) -> Result<Vec<u8>> {
    let mut cmd = Command::new(program);
    // -nostdin keeps ffmpeg off the terminal; not when it reads its input from the pipe.
    if tool == Tool::Ffmpeg && stdin.is_none() {
        cmd.arg("-nostdin");
    }
    cmd.args(["-hide_banner", "-loglevel", "error"])
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(missing_tool(tool, program))
        }
        Err(e) => bail!(
            "cannot run {} (`{}`): {e}",
            tool.name(),
            program.to_string_lossy()
        ),
    };
    let mut guard = Reaper(Some(child));
    let child = guard.0.as_mut().expect("child");
    let mut out_pipe = child.stdout.take().expect("piped stdout");
    let mut err_pipe = child.stderr.take().expect("piped stderr");
    let in_pipe = child.stdin.take();
    let (out, err, wrote) = std::thread::scope(|s| {
        let writer = s.spawn(move || -> std::io::Result<()> {
            if let (Some(mut p), Some(data)) = (in_pipe, stdin) {
                p.write_all(&data)?;
                // Dropping `p` closes the pipe: end of input.
            }
            Ok(())
        });
        let errs = s.spawn(move || {
            let mut b = Vec::new();
            let _ = err_pipe.read_to_end(&mut b);
            b
        });
        let mut out = Vec::new();
        let r = out_pipe.read_to_end(&mut out);
        let err = errs.join().unwrap_or_default();
        let wrote = writer
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("writer panicked")));
        (r.map(|_| out), err, wrote)
    });
    let status = guard.0.take().expect("child").wait()?;
    if !status.success() {
        let t = tail(&err, 8);
        bail!(
            "{} failed ({status}){}",
            tool.name(),
            if t.is_empty() {
                String::new()
            } else {
                format!(":\n{t}")
            }
        );
    }
    let out = out.map_err(|e| Error::msg(format!("reading {}'s output: {e}", tool.name())))?;
    if let Err(e) = wrote {
        bail!("writing to {}: {e}; stderr: {}", tool.name(), tail(&err, 8));
    }
    Ok(out)
}

fn has_libx264() -> bool {
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(|| {
        run_tool(Tool::Ffmpeg, &["-encoders".into()], None)
            .map(|o| {
                String::from_utf8_lossy(&o)
                    .split_whitespace()
                    .any(|w| w == "libx264")
            })
            .unwrap_or(false)
    })
}

/// A directory under the system temp dir, removed with everything in it on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<TempDir> {
        static N: AtomicUsize = AtomicUsize::new(0);
        let base = std::env::temp_dir();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        for _ in 0..100 {
            let i = N.fetch_add(1, Ordering::Relaxed);
            let p = base.join(format!("emoscope-video-{}-{nanos}-{i}", std::process::id()));
            match std::fs::create_dir(&p) {
                Ok(()) => return Ok(TempDir(p)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => bail!(
                    "cannot create a temporary directory in {}: {e}",
                    base.display()
                ),
            }
        }
        bail!("cannot create a temporary directory in {}", base.display())
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eq1_and_times() {
        assert_eq!(frame_rate(5.0), 2.0);
        assert_eq!(frame_rate(5.0001), 1.0);
        assert_eq!(frame_rate(15.0), 1.0);
        assert_eq!(frame_rate(20.0), 0.5);
        assert_eq!(frame_rate(20.0001), 0.2);
        assert_eq!(
            sample_times(3.0, 2.0, None),
            vec![0.25, 0.75, 1.25, 1.75, 2.25, 2.75]
        );
        assert_eq!(sample_times(17.0, 0.5, None).len(), 8); // 8.5 rounds down
        assert_eq!(sample_times(3.0000001, 2.0, None).len(), 6);
        assert_eq!(sample_times(0.2, 2.0, None), vec![0.1]);
        assert_eq!(sample_times(3.0, 2.0, Some(3)), vec![0.75, 1.75, 2.75]);
        assert_eq!(sample_times(3.0, 2.0, Some(10)).len(), 6);
    }

    #[test]
    fn missing_program_names_the_package() {
        let e =
            run_program(Tool::Ffmpeg, &"emoscope-no-such-ffmpeg".into(), &[], None).unwrap_err();
        let m = e.to_string();
        assert!(
            m.contains("apt-get install ffmpeg") && m.contains("emoscope-no-such-ffmpeg"),
            "{m}"
        );
    }

    #[test]
    fn stderr_tail() {
        assert_eq!(tail(b"a\n\nb\nc\nd\n", 2), "c\nd");
    }

    #[test]
    fn tempdir_is_removed() {
        let d = TempDir::new().unwrap();
        let p = d.path().to_path_buf();
        std::fs::write(p.join("x"), b"1").unwrap();
        drop(d);
        assert!(!p.exists());
    }
}

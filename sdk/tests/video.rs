//! Video frames through ffmpeg (`emoscope_sdk::infer::video`).
//!
//! These tests need `ffmpeg` and `ffprobe` on PATH (`apt-get install ffmpeg`). Without them
//! they say they are skipped and pass, so `cargo test` works on a machine with only cargo;
//! with EMOSCOPE_REQUIRE_FFMPEG=1 (CI sets it) a missing ffmpeg fails them.
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use emoscope_sdk::infer::video::{
    encode_video_mp4, frame_rate, probe_duration, sample_frames, Frame, FrameOpts,
};

/// Whether ffmpeg can be used; without it the test is skipped, unless CI requires it.
fn ffmpeg_ready(test: &str) -> bool {
    let ok = ["ffmpeg", "ffprobe"].iter().all(|p| {
        Command::new(p)
            .arg("-version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    if ok {
        return true;
    }
    if std::env::var("EMOSCOPE_REQUIRE_FFMPEG").as_deref() != Ok("1") {
        eprintln!(
            "{test}: SKIPPED: ffmpeg/ffprobe not installed (Debian/Ubuntu: `apt-get install ffmpeg`)"
        );
        return false;
    }
    panic!(
        "ffmpeg and ffprobe are required (EMOSCOPE_REQUIRE_FFMPEG=1): install ffmpeg \
         (Debian/Ubuntu: `apt-get install ffmpeg`)"
    );
}

fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .output()
        .expect("run ffmpeg");
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A moving test pattern of `secs` seconds, 320×240 at 10 fps.
fn testsrc(dir: &Path, secs: u32) -> PathBuf {
    let p = dir.join(format!("testsrc_{secs}s.mp4"));
    let src = format!("testsrc=size=320x240:rate=10:duration={secs}");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &src,
        "-c:v",
        "mpeg4",
        "-q:v",
        "5",
        "-pix_fmt",
        "yuv420p",
        p.to_str().unwrap(),
    ]);
    p
}

/// A lossless `secs`-second, 10 fps gray video whose frame N has the uniform value 8·N.
fn index_video(dir: &Path, secs: u32) -> PathBuf {
    let p = dir.join(format!("index_{secs}s.mkv"));
    let src = format!("nullsrc=s=32x24:r=10:d={secs},format=gray,geq=lum='8*N'");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &src,
        "-c:v",
        "ffv1",
        p.to_str().unwrap(),
    ]);
    p
}

/// The frame indices the PNGs of `index_video` show (mean gray value / 8), by one ffmpeg.
fn frame_indices(frames: &[Frame]) -> Vec<u32> {
    let mut c = Command::new("ffmpeg")
        .args([
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            "-f",
            "image2pipe",
            "-c:v",
            "png",
        ])
        .args([
            "-i",
            "-",
            "-vf",
            "scale=1:1",
            "-pix_fmt",
            "gray",
            "-f",
            "rawvideo",
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run ffmpeg");
    let mut stdin = c.stdin.take().unwrap();
    for f in frames {
        stdin.write_all(&f.png).unwrap();
    }
    drop(stdin);
    let out = c.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stdout.len() == frames.len(),
        "{out:?}"
    );
    out.stdout
        .iter()
        .map(|&v| (v as f64 / 8.0).round() as u32)
        .collect()
}

/// (width, height, bit depth, colour type) from a PNG's IHDR.
fn png_header(png: &[u8]) -> (u32, u32, u8, u8) {
    assert!(png.len() > 33, "PNG too short");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&png[12..16], b"IHDR");
    let w = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(png[20..24].try_into().unwrap());
    (w, h, png[24], png[25])
}

fn probe(path: &Path, entries: &str) -> String {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-count_frames",
            "-show_entries",
            entries,
        ])
        .args(["-of", "default=noprint_wrappers=1"])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn eq1_boundaries() {
    for (d, r) in [
        (0.1, 2.0),
        (4.99, 2.0),
        (5.0, 2.0),
        (5.000001, 1.0),
        (10.0, 1.0),
        (15.0, 1.0),
        (15.000001, 0.5),
        (20.0, 0.5),
        (20.000001, 0.2),
        (300.0, 0.2),
    ] {
        assert_eq!(frame_rate(d), r, "d = {d}");
    }
    let o = FrameOpts::default();
    assert_eq!((o.size, o.fps, o.max_frames), (256, None, None));
}

/// Eq. 1 count, 256×256 RGB PNGs, the documented times and moving content, for one duration.
fn check_duration(secs: u32, want_fps: f64, want_n: usize) {
    let dir = tempfile::tempdir().unwrap();
    let v = testsrc(dir.path(), secs);
    let d = probe_duration(&v).unwrap();
    assert!((d - secs as f64).abs() < 0.05, "duration {d} for {secs} s");
    let frames = sample_frames(&v, &FrameOpts::default()).unwrap();
    assert_eq!(frames.len(), want_n, "{secs} s at {want_fps} fps");
    for (k, f) in frames.iter().enumerate() {
        let t = (k as f64 + 0.5) / want_fps;
        assert!(
            (f.time_s - t).abs() < 1e-9,
            "frame {k}: time {} != {t}",
            f.time_s
        );
        assert_eq!(
            png_header(&f.png),
            (256, 256, 8, 2),
            "frame {k}: 256×256 8-bit RGB"
        );
    }
    for w in frames.windows(2) {
        assert_ne!(
            w[0].png, w[1].png,
            "frames at {} and {} s are identical",
            w[0].time_s, w[1].time_s
        );
    }
}

#[test]
fn frames_3s() {
    if ffmpeg_ready("frames_3s") {
        check_duration(3, 2.0, 6);
    }
}

#[test]
fn frames_8s() {
    if ffmpeg_ready("frames_8s") {
        check_duration(8, 1.0, 8);
    }
}

#[test]
fn frames_17s() {
    // 17 s × 0.5 fps = 8.5: exact halves round down (t = 17 s is not < 17 s).
    if ffmpeg_ready("frames_17s") {
        check_duration(17, 0.5, 8);
    }
}

#[test]
fn frames_30s() {
    if ffmpeg_ready("frames_30s") {
        check_duration(30, 0.2, 6);
    }
}

#[test]
fn the_first_frame_at_or_after_each_time() {
    if !ffmpeg_ready("the_first_frame_at_or_after_each_time") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let v = index_video(dir.path(), 3);
    // Eq. 1: 2 fps, t = 0.25, 0.75, … 2.75: frames 3, 8, 13, 18, 23, 28 (at 0.3 s, 0.8 s, …).
    let frames = sample_frames(
        &v,
        &FrameOpts {
            size: 16,
            ..FrameOpts::default()
        },
    )
    .unwrap();
    let got = frame_indices(&frames);
    assert_eq!(got, vec![3, 8, 13, 18, 23, 28]);
    assert_eq!(png_header(&frames[0].png).0, 16);
    // max_frames keeps k = floor((j + 0.5)·6/3) = 1, 3, 5.
    let opts = FrameOpts {
        size: 16,
        max_frames: Some(3),
        ..FrameOpts::default()
    };
    let frames = sample_frames(&v, &opts).unwrap();
    let times: Vec<f64> = frames.iter().map(|f| f.time_s).collect();
    assert_eq!(times, vec![0.75, 1.75, 2.75]);
    let got = frame_indices(&frames);
    assert_eq!(got, vec![8, 18, 28]);
    // 10 fps: t = 0.05 … 2.95; frame k + 1, and the last frame (29) for t = 2.95 > 2.9.
    let opts = FrameOpts {
        size: 16,
        fps: Some(10.0),
        max_frames: None,
    };
    let frames = sample_frames(&v, &opts).unwrap();
    assert_eq!(frames.len(), 30);
    let got = frame_indices(&frames);
    let want: Vec<u32> = (0..30).map(|k| (k + 1).min(29)).collect();
    assert_eq!(got, want);
}

#[test]
fn mp4_of_the_sampled_frames() {
    if !ffmpeg_ready("mp4_of_the_sampled_frames") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let v = testsrc(dir.path(), 8);
    let mp4 = encode_video_mp4(&v, &FrameOpts::default()).unwrap();
    assert_eq!(&mp4[4..8], b"ftyp", "not an mp4");
    let out = dir.path().join("out.mp4");
    std::fs::write(&out, &mp4).unwrap();
    let info = probe(&out, "stream=codec_name,width,height,nb_read_frames");
    assert!(
        info.contains("width=256") && info.contains("height=256"),
        "{info}"
    );
    assert!(info.contains("nb_read_frames=8"), "{info}");
    assert!(
        info.contains("codec_name=h264") || info.contains("codec_name=mpeg4"),
        "{info}"
    );
    assert!(mp4.len() < 200_000, "{} bytes", mp4.len());
    let e = encode_video_mp4(
        &v,
        &FrameOpts {
            size: 255,
            ..FrameOpts::default()
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("even"), "{e}");
}

#[test]
fn clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    // A missing file names its path (no ffmpeg needed to say so).
    let missing = dir.path().join("no_such_video.mp4");
    for e in [
        probe_duration(&missing).unwrap_err(),
        sample_frames(&missing, &FrameOpts::default()).unwrap_err(),
        encode_video_mp4(&missing, &FrameOpts::default()).unwrap_err(),
    ] {
        let m = e.to_string();
        assert!(
            m.contains("not found") && m.contains("no_such_video.mp4"),
            "{m}"
        );
    }
    let e = sample_frames(
        &missing,
        &FrameOpts {
            fps: Some(0.0),
            ..FrameOpts::default()
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("fps"), "{e}");
    if !ffmpeg_ready("clear_errors") {
        return;
    }
    // Not a video: ffprobe's complaint and the path.
    let text = dir.path().join("notes.mp4");
    std::fs::write(&text, "these are not moving pictures\n").unwrap();
    let m = sample_frames(&text, &FrameOpts::default())
        .unwrap_err()
        .to_string();
    assert!(
        m.contains("notes.mp4") && m.contains("ffprobe failed"),
        "{m}"
    );
    assert!(
        m.contains("Invalid data"),
        "the last lines of ffprobe's stderr: {m}"
    );
    // Sound only: no video stream.
    let wav = dir.path().join("tone.wav");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:duration=1",
        wav.to_str().unwrap(),
    ]);
    let m = probe_duration(&wav).unwrap_err().to_string();
    assert!(
        m.contains("tone.wav") && m.contains("no video stream"),
        "{m}"
    );
}

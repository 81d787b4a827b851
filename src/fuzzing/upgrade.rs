//! The frame codec of upgraded exec and attach connections.

use super::{Input, split};
use crate::proto::frame::{self, ClientFrame, Decoder, Frame, FrameError, Kind};

/// The first byte picks the check: even bytes decode the rest as an
/// arbitrary stream, odd ones build frames from it and round-trip them.
pub fn upgrade_frame(data: &[u8]) {
    let mut input = Input::new(data);
    if input.byte().is_multiple_of(2) {
        arbitrary_stream(input);
    } else {
        round_trip(input);
    }
}

/// Raw frames of `stream` up to the first error: what [`Decoder::next_raw`]
/// must return however the stream is cut.
type Raw = (Vec<(Kind, Vec<u8>)>, Option<FrameError>);

/// Arbitrary bytes, cut into arbitrary reads, through all three decoding
/// views: no panic, no payload over the limit, the raw frames re-encode to
/// the stream's prefix, and cutting the stream differently changes nothing.
fn arbitrary_stream(mut input: Input<'_>) {
    let max = usize::from(input.u16() % 512);
    let sizes = input.read_sizes();
    let stream = input.rest();
    let whole = raw_frames(max, &[stream]);
    assert_eq!(raw_frames(max, &split(stream, &sizes)), whole);
    let mut prefix = Vec::new();
    for (kind, payload) in &whole.0 {
        assert!(payload.len() <= max, "payload {} > {max}", payload.len());
        frame::encode(*kind, payload, &mut prefix);
    }
    assert!(stream.starts_with(&prefix), "frames are not the stream");
    // The typed views see the same frames (until the first bad one).
    let mut typed = Decoder::new(max);
    let mut client = Decoder::new(max);
    for chunk in split(stream, &sizes) {
        typed.push(chunk);
        client.push(chunk);
        while let Ok(Some(f)) = typed.next_frame() {
            check_frame(&f);
        }
        while let Ok(Some(f)) = client.next_client_frame() {
            assert!(!matches!(f, ClientFrame::Stdin(ref b) if b.is_empty()));
        }
    }
}

fn raw_frames(max: usize, chunks: &[&[u8]]) -> Raw {
    let mut dec = Decoder::new(max);
    let mut frames = Vec::new();
    for chunk in chunks {
        dec.push(chunk);
        loop {
            match dec.next_raw() {
                Ok(Some(f)) => frames.push(f),
                Ok(None) => break,
                Err(err) => {
                    // The error holds: the bad frame is never skipped.
                    assert_eq!(dec.next_raw().as_ref(), Err(&err));
                    return (frames, Some(err));
                }
            }
        }
    }
    (frames, None)
}

/// A parsed frame encodes back to bytes that parse to itself.
fn check_frame(f: &Frame) {
    let bytes = f.to_bytes();
    let mut dec = Decoder::new(bytes.len());
    dec.push(&bytes);
    assert_eq!(dec.next_frame().as_ref(), Ok(&Some(f.clone())));
    assert!(dec.is_empty());
}

/// Frames built from the input, encoded, cut into arbitrary reads and
/// decoded: the client gets every frame back, the server every frame a
/// client sends (output kinds skipped, empty stdin as end of input).
fn round_trip(mut input: Input<'_>) {
    let sizes = input.read_sizes();
    let mut frames = Vec::new();
    while frames.len() < 64 {
        let Some(f) = next_frame(&mut input) else {
            break;
        };
        frames.push(f);
    }
    let mut stream = Vec::new();
    for f in &frames {
        f.encode(&mut stream);
    }
    let max = frames.iter().map(payload_len).max().unwrap_or(0);
    let mut typed = Decoder::new(max);
    let mut client = Decoder::new(max);
    let (mut got, mut got_client) = (Vec::new(), Vec::new());
    for chunk in split(&stream, &sizes) {
        typed.push(chunk);
        client.push(chunk);
        while let Some(f) = typed.next_frame().expect("an encoded frame decodes") {
            got.push(f);
        }
        while let Some(f) = client.next_client_frame().expect("a client frame decodes") {
            got_client.push(f);
        }
    }
    assert_eq!(got, frames);
    assert!(typed.is_empty() && client.is_empty());
    assert_eq!(
        got_client,
        frames.iter().filter_map(as_client).collect::<Vec<_>>()
    );
}

/// One frame from the input: a kind byte, a length byte, that many bytes.
fn next_frame(input: &mut Input<'_>) -> Option<Frame> {
    let kind = input.byte();
    let len = usize::from(input.byte());
    let payload = input.take(len).to_vec();
    if payload.len() < len {
        return None;
    }
    let word = |p: &[u8]| {
        let mut b = [0u8; 4];
        for (dst, src) in b.iter_mut().zip(p) {
            *dst = *src;
        }
        b
    };
    Some(match kind % 6 {
        0 => Frame::Stdin(payload),
        1 => Frame::Stdout(payload),
        2 => Frame::Stderr(payload),
        3 => Frame::Exit(i32::from_be_bytes(word(&payload))),
        4 => {
            let [c0, c1, r0, r1] = word(&payload);
            Frame::Resize {
                cols: u16::from_be_bytes([c0, c1]),
                rows: u16::from_be_bytes([r0, r1]),
            }
        }
        _ => Frame::Error(String::from_utf8_lossy(&payload).into_owned()),
    })
}

fn payload_len(f: &Frame) -> usize {
    f.to_bytes().len() - frame::HEADER
}

/// What the server makes of a frame a client sent.
fn as_client(f: &Frame) -> Option<ClientFrame> {
    match f {
        Frame::Stdin(b) if b.is_empty() => Some(ClientFrame::StdinEof),
        Frame::Stdin(b) => Some(ClientFrame::Stdin(b.clone())),
        Frame::Resize { cols, rows } => Some(ClientFrame::Resize {
            cols: *cols,
            rows: *rows,
        }),
        _ => None,
    }
}

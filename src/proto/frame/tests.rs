//! The codec's byte layout, pinned to the IDL's description with literal
//! bytes (not to the encoder), and the decoder's handling of split input.

use super::*;

fn sample() -> Vec<u8> {
    let mut v = Vec::new();
    encode(Kind::Stdin, b"hello", &mut v);
    encode(Kind::Resize, &[0, 80, 0, 24], &mut v);
    encode(Kind::Stdout, b"ignored", &mut v);
    encode(Kind::Stdin, b"", &mut v);
    v
}

fn expected() -> Vec<ClientFrame> {
    vec![
        ClientFrame::Stdin(b"hello".to_vec()),
        ClientFrame::Resize { cols: 80, rows: 24 },
        ClientFrame::StdinEof,
    ]
}

fn drain(d: &mut Decoder, out: &mut Vec<ClientFrame>) {
    while let Some(f) = d.next_client_frame().unwrap() {
        out.push(f);
    }
}

fn server() -> Decoder {
    Decoder::new(MAX_CLIENT_PAYLOAD)
}

/// Decodes one frame from `bytes` alone, as the client does.
fn decode(bytes: &[u8]) -> Result<Option<Frame>, FrameError> {
    let mut d = Decoder::new(MAX_SERVER_PAYLOAD);
    d.push(bytes);
    d.next_frame()
}

#[test]
fn every_split_point_gives_the_same_frames() {
    let bytes = sample();
    for cut in 0..=bytes.len() {
        let mut d = server();
        let mut out = Vec::new();
        d.push(&bytes[..cut]);
        drain(&mut d, &mut out);
        d.push(&bytes[cut..]);
        drain(&mut d, &mut out);
        assert_eq!(out, expected(), "cut at {cut}");
        assert!(d.is_empty());
    }
}

#[test]
fn byte_by_byte() {
    let mut d = server();
    let mut out = Vec::new();
    for b in sample() {
        d.push(&[b]);
        drain(&mut d, &mut out);
    }
    assert_eq!(out, expected());
}

#[test]
fn bad_frames_are_errors() {
    let mut d = server();
    d.push(&[9, 0, 0, 0, 0]);
    assert_eq!(d.next_client_frame(), Err(FrameError::UnknownKind(9)));
    let mut d = server();
    d.push(&[0, 0xff, 0, 0, 0]);
    assert!(matches!(
        d.next_client_frame(),
        Err(FrameError::TooLarge { .. })
    ));
    let mut d = server();
    d.push(&[4, 0, 0, 0, 1, 7]);
    assert_eq!(
        d.next_client_frame(),
        Err(FrameError::BadLength {
            kind: Kind::Resize,
            len: 1
        })
    );
}

#[test]
fn exit_frame_layout() {
    assert_eq!(Frame::Exit(137).to_bytes(), [3, 0, 0, 0, 4, 0, 0, 0, 137]);
}

#[test]
fn encodes_as_the_idl_says() {
    assert_eq!(Frame::Stdin(b"ab".to_vec()).to_bytes(), b"\0\0\0\0\x02ab");
    assert_eq!(Frame::Stdin(Vec::new()).to_bytes(), b"\0\0\0\0\0");
    assert_eq!(
        Frame::Resize {
            cols: 0x0102,
            rows: 0x0304
        }
        .to_bytes(),
        b"\x04\0\0\0\x04\x01\x02\x03\x04"
    );
    assert_eq!(
        Frame::Exit(-1).to_bytes(),
        b"\x03\0\0\0\x04\xff\xff\xff\xff"
    );
}

#[test]
fn round_trips() {
    for f in [
        Frame::Stdin(b"x".to_vec()),
        Frame::Stdout(b"out".to_vec()),
        Frame::Stderr(Vec::new()),
        Frame::Exit(137),
        Frame::Resize { cols: 80, rows: 24 },
        Frame::Error("too slow".into()),
    ] {
        let bytes = f.to_bytes();
        assert_eq!(decode(&bytes).unwrap(), Some(f.clone()));
        assert_eq!(decode(&bytes[..bytes.len() - 1]).unwrap_or(None), None);
    }
}

#[test]
fn bad_frames_for_the_client() {
    assert!(decode(b"\x09\0\0\0\0").is_err());
    assert!(decode(b"\x03\0\0\0\x02ab").is_err());
    assert!(decode(b"\x04\0\0\0\x03abc").is_err());
    assert!(decode(b"\x01\xff\xff\xff\xff").is_err());
    assert_eq!(decode(b"\x01\0\0").unwrap(), None);
}

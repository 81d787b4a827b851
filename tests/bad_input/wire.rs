//! Cases about the message itself: framing, JSON, the header fields, the
//! method name and org.varlink.service. The specification closes the
//! connection for a malformed message (invalid JSON, not an object, no
//! `method`, unknown unprefixed fields, non-boolean or conflicting flags)
//! and answers everything else.

use serde_json::json;

use crate::MAX_MESSAGE;
use crate::table::*;

/// Malformed messages: the connection is closed without a reply.
fn malformed() -> Vec<Case> {
    let close = |name: &str, msg: &[u8]| raw(name, msg, Expect::Close);
    let deep = format!(
        "{{\"method\":\"{GET_INFO}\",\"parameters\":{{\"x\":{}{}}}}}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    vec![
        close(
            "truncated JSON",
            b"{\"method\": \"io.podmon.Pod.GetContainer\", ",
        ),
        close("lone brace", b"{"),
        close("array", b"[1,2]"),
        close("string", b"\"just a string\""),
        close("null", b"null"),
        close("number", b"42"),
        close("boolean", b"true"),
        close("empty message", b""),
        close("whitespace only", b"   \n\t "),
        close("invalid UTF-8", b"\xff\xfe\xfd"),
        close("invalid UTF-8 in a string", b"{\"method\":\"a.b.\xff\"}"),
        close(
            "byte order mark",
            b"\xef\xbb\xbf{\"method\":\"org.varlink.service.GetInfo\"}",
        ),
        close(
            "two objects in one message",
            b"{\"method\":\"org.varlink.service.GetInfo\"}{\"x\":1}",
        ),
        close(
            "trailing garbage",
            b"{\"method\":\"org.varlink.service.GetInfo\"} x",
        ),
        close(
            "NUL inside the JSON",
            b"{\"method\":\"org.varlink.service.GetInfo\x00\"}",
        ),
        close("no method", b"{}"),
        close("parameters without method", b"{\"parameters\":{}}"),
        close("method a number", b"{\"method\": 42}"),
        close("method null", b"{\"method\": null}"),
        close("method an array", b"{\"method\": [\"a.b.C\"]}"),
        close("method an object", b"{\"method\": {\"a\": \"b\"}}"),
        close("oneway a number", b"{\"method\":\"a.b.C\",\"oneway\":1}"),
        close("more a string", b"{\"method\":\"a.b.C\",\"more\":\"true\"}"),
        close(
            "upgrade an object",
            b"{\"method\":\"a.b.C\",\"upgrade\":{}}",
        ),
        close(
            "oneway and more",
            b"{\"method\":\"org.varlink.service.GetInfo\",\"oneway\":true,\"more\":true}",
        ),
        close(
            "more and upgrade",
            b"{\"method\":\"org.varlink.service.GetInfo\",\"more\":true,\"upgrade\":true}",
        ),
        close(
            "oneway and upgrade",
            b"{\"method\":\"org.varlink.service.GetInfo\",\"oneway\":true,\"upgrade\":true}",
        ),
        close(
            "unknown unprefixed field",
            b"{\"method\":\"org.varlink.service.GetInfo\",\"bogus\":1}",
        ),
        close(
            "X- prefixed field",
            b"{\"method\":\"org.varlink.service.GetInfo\",\"X-Trace\":1}",
        ),
        close(
            "duplicate method",
            b"{\"method\":\"org.varlink.service.GetInfo\",\"method\":\"a.b.D\"}",
        ),
        close(
            "duplicate parameters",
            b"{\"method\":\"org.varlink.service.GetInfo\",\"parameters\":{},\"parameters\":{}}",
        ),
        close(
            "parameters an array",
            b"{\"method\":\"io.podmon.Pod.GetContainer\",\"parameters\":[\"x\"]}",
        ),
        close(
            "parameters a string",
            b"{\"method\":\"io.podmon.Pod.GetContainer\",\"parameters\":\"x\"}",
        ),
        close(
            "lone surrogate escape",
            b"{\"method\":\"io.podmon.Pod.GetContainer\",\"parameters\":{\"id\":\"\\ud800\"}}",
        ),
        close(
            "number out of range",
            b"{\"method\":\"org.varlink.service.GetInfo\",\"parameters\":{\"x\":1e999}}",
        ),
        close("nesting 10000 deep", deep.as_bytes()),
        close(
            "a reply sent as a call",
            b"{\"parameters\":{},\"continues\":true}",
        ),
    ]
}

/// Method names that cannot exist: a well-formed message, so an answer.
fn method_names() -> Vec<Case> {
    let not_found = |sent: &str| {
        let m = json!({"method": sent}).to_string();
        raw(
            &format!("method name {sent:?}"),
            m.as_bytes(),
            error(METHOD_NOT_FOUND, "method", &[sent]),
        )
    };
    let long = format!("io.podmon.Pod.{}", "A".repeat(4096));
    let mut out: Vec<Case> = [
        "GetInfo",
        "a.getInfo",
        ".Foo",
        "a..b.Foo",
        "a.b.",
        "-a.b.Foo",
        "a.b-.Foo",
        "1a.b.Foo",
        "",
        "io.podmon.Pod.getContainer",
        "io.podmon.Pod.Get_Container",
        "io.podmon.Pod.GetContainer\u{0}",
        "io.podmon.Pod.GetContainer ",
        "io.podmon.Pod.Nope",
        "org.varlink.service.Nope",
        long.as_str(),
    ]
    .into_iter()
    .map(not_found)
    .collect();
    out.push(raw(
        "bad method name, oneway",
        b"{\"method\":\"GetInfo\",\"oneway\":true}",
        Expect::Silent,
    ));
    out
}

/// Well-formed calls the service answers.
fn service() -> Vec<Case> {
    let desc = "org.varlink.service.GetInterfaceDescription";
    vec![
        call(
            "unknown interface",
            "com.example.Other.Method",
            json!({}),
            error(INTERFACE_NOT_FOUND, "interface", &["com.example.Other"]),
        ),
        call(
            "interface with a digit suffix",
            "io.podmon.Pod2.GetContainer",
            json!({}),
            error(INTERFACE_NOT_FOUND, "interface", &["io.podmon.Pod2"]),
        ),
        call(
            "description of an unknown interface",
            desc,
            json!({"interface": "com.example.Other"}),
            error(INTERFACE_NOT_FOUND, "interface", &["com.example.Other"]),
        ),
        call(
            "description without interface",
            desc,
            json!({}),
            error(INVALID_PARAMETER, "parameter", &["interface"]),
        ),
        call(
            "description of interface 5",
            desc,
            json!({"interface": 5}),
            error(INVALID_PARAMETER, "parameter", &["interface"]),
        ),
        call(
            "GetInfo with an unknown parameter",
            GET_INFO,
            json!({"x": 1}),
            error(INVALID_PARAMETER, "parameter", &["x"]),
        ),
        raw(
            "vendor extension is ignored",
            b"{\"method\":\"org.varlink.service.GetInfo\",\"org.example\":{\"trace\":1}}",
            Expect::Ok,
        ),
        raw(
            "whitespace around everything",
            b" {\n \"method\" : \"org.varlink.service.GetInfo\" ,\n\t\"parameters\": null }\n",
            Expect::Ok,
        ),
        raw(
            "flags false and null",
            b"{\"method\":\"org.varlink.service.GetInfo\",\"oneway\":false,\"more\":null}",
            Expect::Ok,
        ),
        raw(
            "oneway unknown method",
            b"{\"method\":\"io.podmon.Pod.Nope\",\"oneway\":true}",
            Expect::Silent,
        ),
        raw(
            "upgrade on a method that does not upgrade",
            b"{\"method\":\"io.podmon.Pod.GetPod\",\"upgrade\":true}",
            error(INVALID_PARAMETER, "parameter", &["upgrade"]),
        ),
    ]
}

/// Messages over the size bound: the error names it, then the close.
fn sizes() -> Vec<Case> {
    let too_large = Expect::ErrorThenClose {
        name: LIMIT_EXCEEDED,
        key: "max",
        value: json!(MAX_MESSAGE),
    };
    let mut with_nul = br#"{"method":"org.varlink.service.GetInfo","parameters":{"x":""#.to_vec();
    with_nul.resize(MAX_MESSAGE + 16, b'a');
    with_nul.extend_from_slice(b"\"}}");
    let mut no_nul = vec![b' '; MAX_MESSAGE + 1];
    no_nul[0] = b'{';
    let mut cases = vec![raw("message over 8 MiB", &with_nul, too_large.clone())];
    // Without a NUL: only the bytes, no terminator.
    cases.push(Case {
        name: "8 MiB + 1 without a NUL".to_owned(),
        bytes: no_nul,
        expect: too_large,
    });
    cases
}

/// Every case of this file.
pub fn cases() -> Vec<Case> {
    let mut all = malformed();
    all.extend(method_names());
    all.extend(service());
    all.extend(sizes());
    all
}

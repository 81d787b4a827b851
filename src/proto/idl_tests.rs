//! Holds the proto types to `varlink/io.podmon.Pod.varlink`, both ways:
//! every method, type and error of the IDL has its type here and the other
//! way round, with the same fields, and a field is optional (`?`) in the
//! IDL exactly when the type may leave it out.
//!
//! How: the field names of a type come from serde itself (what its derived
//! `Deserialize` asks for). A value built from the IDL with every field set
//! must deserialize and serialize back with every field; one with only the
//! required fields must do the same with only those (`null` counts as
//! absent, as in Varlink); and dropping any required field must fail.

use std::collections::BTreeSet;

use serde::Serialize;
use serde::de::{self, DeserializeOwned, Visitor};
use serde_json::{Map, Value, json};

use super::errors::{self, ProtoError};
use super::events::EventKind;
use super::idl::{self, Field, Idl, Ty, TypeDef};
use super::*;

/// Stops a derived `Deserialize` at its first request and keeps the
/// field (or variant) names it asked for.
struct Names(Option<&'static [&'static str]>);

#[derive(Debug)]
struct Stop;

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("stop")
    }
}

impl std::error::Error for Stop {}

impl de::Error for Stop {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        Stop
    }
}

impl<'de> de::Deserializer<'de> for &mut Names {
    type Error = Stop;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
        Err(Stop)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Stop> {
        self.0 = Some(fields);
        Err(Stop)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        variants: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Stop> {
        self.0 = Some(variants);
        Err(Stop)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map identifier ignored_any
    }
}

/// The field names of a struct type, or the variant names of an enum.
fn names<T: DeserializeOwned>() -> BTreeSet<String> {
    let mut n = Names(None);
    let _ = T::deserialize(&mut n);
    let names =
        n.0.unwrap_or_else(|| panic!("{} is no struct", std::any::type_name::<T>()));
    names.iter().map(|s| s.to_string()).collect()
}

/// A JSON value of type `ty`, with (`full`) or without the optional fields
/// of the structs in it.
fn sample(idl: &Idl, ty: &Ty, full: bool) -> Value {
    match ty {
        Ty::Bool => json!(true),
        Ty::Int => json!(1),
        Ty::Float => json!(1.5),
        Ty::String => json!("s"),
        Ty::Object => json!({}),
        Ty::Array(t) => json!([sample(idl, t, full)]),
        Ty::Map(t) => json!({ "k": sample(idl, t, full) }),
        Ty::Optional(t) => sample(idl, t, full),
        Ty::Named(name) => match &idl.types[name] {
            TypeDef::Enum(values) => json!(values[0]),
            TypeDef::Struct(fields) => Value::Object(record(idl, fields, full)),
        },
    }
}

fn record(idl: &Idl, fields: &[Field], full: bool) -> Map<String, Value> {
    fields
        .iter()
        .filter(|f| full || !f.optional())
        .map(|f| (f.name.clone(), sample(idl, &f.ty, full)))
        .collect()
}

/// The keys a value serializes to, `null`s left out.
fn keys<T: Serialize>(v: &T) -> BTreeSet<String> {
    match serde_json::to_value(v).unwrap() {
        Value::Object(m) => m
            .into_iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, _)| k)
            .collect(),
        other => panic!("not a record: {other}"),
    }
}

fn set<'a>(names: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    names.into_iter().map(str::to_owned).collect()
}

/// Checks one record of the IDL against the type `T`; appends what does
/// not match to `out`.
fn check<T: Serialize + DeserializeOwned>(
    idl: &Idl,
    what: &str,
    fields: &[Field],
    out: &mut Vec<String>,
) {
    let all = set(fields.iter().map(|f| f.name.as_str()));
    let required = set(fields
        .iter()
        .filter(|f| !f.optional())
        .map(|f| f.name.as_str()));
    let rust = names::<T>();
    for f in all.difference(&rust) {
        out.push(format!(
            "{what}: the IDL names `{f}`, the type has no such field"
        ));
    }
    for f in rust.difference(&all) {
        out.push(format!(
            "{what}: the type has `{f}`, the IDL does not name it"
        ));
    }
    for (full, expect) in [(true, &all), (false, &required)] {
        let value = Value::Object(record(idl, fields, full));
        match serde_json::from_value::<T>(value.clone()) {
            Ok(v) if keys(&v) == *expect => {}
            Ok(v) => out.push(format!(
                "{what}: from {value} the type sends {:?}, the IDL says {expect:?}",
                keys(&v)
            )),
            Err(e) => out.push(format!("{what}: the type does not read {value}: {e}")),
        }
    }
    for f in &required {
        let mut m = record(idl, fields, false);
        m.remove(f);
        if serde_json::from_value::<T>(Value::Object(m)).is_ok() {
            out.push(format!(
                "{what}: `{f}` is required in the IDL, the type makes it optional"
            ));
        }
    }
}

/// Checks an IDL enum against the Rust enum `T`.
fn check_enum<T: DeserializeOwned>(what: &str, values: &[String], out: &mut Vec<String>) {
    let idl = set(values.iter().map(String::as_str));
    let rust = names::<T>();
    if idl != rust {
        out.push(format!("{what}: the IDL says {idl:?}, the type {rust:?}"));
    }
    for v in values {
        if serde_json::from_value::<T>(json!(v)).is_err() {
            out.push(format!("{what}: the type does not read {v:?}"));
        }
    }
}

type Checker = fn(&Idl, &str, &[Field], &mut Vec<String>);
type EnumChecker = fn(&str, &[String], &mut Vec<String>);

/// Checks a method's parameters and replies against `M` and `M::Reply`.
fn check_method<M: Method>(idl: &Idl, out: &mut Vec<String>) {
    let Some((params, replies)) = idl.methods.get(M::NAME) else {
        return out.push(format!("method {}: not in the IDL", M::NAME));
    };
    check::<M>(idl, &format!("{} parameters", M::NAME), params, out);
    check::<M::Reply>(idl, &format!("{} reply", M::NAME), replies, out);
}

fn check_error<E: ProtoError>(idl: &Idl, out: &mut Vec<String>) {
    match idl.errors.get(E::NAME) {
        Some(fields) => check::<E>(idl, &format!("error {}", E::NAME), fields, out),
        None => out.push(format!("error {}: not in the IDL", E::NAME)),
    }
}

/// Every method, with its request type.
fn methods(idl: &Idl, out: &mut Vec<String>) -> BTreeSet<String> {
    macro_rules! each {
        ($($m:ident),*) => {{
            $(check_method::<$m>(idl, out);)*
            set([$(<$m as Method>::NAME),*])
        }};
    }
    each!(
        CreateContainer,
        StartContainer,
        KillContainer,
        WaitContainer,
        DeleteContainer,
        GetContainer,
        ListContainers,
        SetLogRateLimit,
        ReopenLog,
        PurgeLog,
        ReadLogs,
        ExecSync,
        Exec,
        Attach,
        OpenConsole,
        Resize,
        Stats,
        GetPod,
        WatchEvents,
        Shutdown,
        Reexec,
        RunInPod,
        PortForward
    )
}

fn errors(idl: &Idl, out: &mut Vec<String>) -> BTreeSet<String> {
    macro_rules! each {
        ($($e:ident),*) => {{
            $(check_error::<errors::$e>(idl, out);)*
            set([$(<errors::$e as ProtoError>::NAME),*])
        }};
    }
    each!(
        WatcherTooSlow,
        EventsExpired,
        LimitExceeded,
        NoSuchContainer,
        ContainerExists,
        InvalidValue,
        InvalidState,
        RuntimeError,
        SystemError,
        PermissionDenied,
        NoNamespace,
        ShuttingDown,
        ConnectionRefused
    )
}

/// The named records and enums (`Event` apart: see [`check_event`]).
fn types(idl: &Idl, out: &mut Vec<String>) -> BTreeSet<String> {
    let records: [(&str, Checker); 12] = [
        ("LogRateLimit", check::<LogRateLimit>),
        ("LogRecord", check::<LogRecord>),
        ("ContainerInfo", check::<ContainerInfo>),
        ("CpuStats", check::<CpuStats>),
        ("MemoryStats", check::<MemoryStats>),
        ("PidsStats", check::<PidsStats>),
        ("BlockIoStats", check::<BlockIoStats>),
        ("LogStats", check::<LogStats>),
        ("ContainerStats", check::<ContainerStats>),
        ("MonitorStats", check::<MonitorStats>),
        ("PodInit", check::<PodInit>),
        ("PodNamespace", check::<PodNamespace>),
    ];
    let enums: [(&str, EnumChecker); 5] = [
        ("ContainerStatus", check_enum::<ContainerStatus>),
        ("LogPolicy", check_enum::<LogPolicy>),
        ("LogDriver", check_enum::<LogDriver>),
        ("LogSync", check_enum::<LogSync>),
        ("EventKind", check_enum::<EventKind>),
    ];
    for (name, f) in records {
        match idl.types.get(name) {
            Some(TypeDef::Struct(fields)) => f(idl, &format!("type {name}"), fields, out),
            _ => out.push(format!("type {name}: no such record in the IDL")),
        }
    }
    for (name, f) in enums {
        match idl.types.get(name) {
            Some(TypeDef::Enum(values)) => f(&format!("type {name}"), values, out),
            _ => out.push(format!("type {name}: no such enum in the IDL")),
        }
    }
    let mut names = set(records.iter().map(|(n, _)| *n));
    names.extend(set(enums.iter().map(|(n, _)| *n)));
    names.insert("Event".into());
    names
}

/// One event of every kind, every optional field set where the kind has
/// it; and the same without the optional fields.
fn event_samples() -> Vec<Event> {
    let ev = |detail| Event {
        seq: 1,
        id: "a".into(),
        timestamp: "t".into(),
        detail,
    };
    let signal = || Some("SIGKILL".to_owned());
    vec![
        ev(EventDetail::Created),
        ev(EventDetail::Started),
        ev(EventDetail::Exited {
            exit_code: Some(137),
            signal: signal(),
            oom_killed: false,
        }),
        ev(EventDetail::Exited {
            exit_code: Some(0),
            signal: None,
            oom_killed: true,
        }),
        ev(EventDetail::Oom),
        ev(EventDetail::ExecStarted {
            exec_id: "e".into(),
        }),
        ev(EventDetail::ExecExited {
            exec_id: "e".into(),
            exit_code: 1,
            signal: signal(),
        }),
        ev(EventDetail::Deleted),
        ev(EventDetail::LogDropped { bytes_dropped: 3 }),
    ]
}

/// `Event` is one record in the IDL and one variant per kind here: the
/// union of what the variants send must be the IDL's fields, what every
/// variant sends its required ones, and each must read back as itself.
fn check_event(idl: &Idl, out: &mut Vec<String>) {
    let Some(TypeDef::Struct(fields)) = idl.types.get("Event") else {
        return out.push("type Event: no such record in the IDL".into());
    };
    let all = set(fields.iter().map(|f| f.name.as_str()));
    let required = set(fields
        .iter()
        .filter(|f| !f.optional())
        .map(|f| f.name.as_str()));
    let samples = event_samples();
    let kinds: BTreeSet<_> = samples.iter().map(|e| e.detail.kind()).collect();
    if kinds.len() != EventKind::ALL.len() {
        out.push("type Event: the samples miss a kind".into());
    }
    let mut union = BTreeSet::new();
    let mut every = all.clone();
    for e in &samples {
        let k = keys(e);
        union.extend(k.iter().cloned());
        every = every.intersection(&k).cloned().collect();
        let back: Result<Event, _> = serde_json::from_value(serde_json::to_value(e).unwrap());
        if back.as_ref().ok() != Some(e) {
            out.push(format!("type Event: {e:?} reads back as {back:?}"));
        }
    }
    if union != all {
        out.push(format!(
            "type Event: the type sends {union:?}, the IDL names {all:?}"
        ));
    }
    if every != required {
        out.push(format!(
            "type Event: every kind sends {every:?}, the IDL requires {required:?}"
        ));
    }
}

#[test]
fn the_idl_and_the_types_agree() {
    let idl = idl::parse(DESCRIPTION);
    assert_eq!(idl.name, INTERFACE);
    let mut out = Vec::new();
    let ours = methods(&idl, &mut out);
    for m in idl.methods.keys().filter(|m| !ours.contains(*m)) {
        out.push(format!("method {m}: in the IDL, no request type"));
    }
    let ours = errors(&idl, &mut out);
    for e in idl.errors.keys().filter(|e| !ours.contains(*e)) {
        out.push(format!("error {e}: in the IDL, no type"));
    }
    let ours = types(&idl, &mut out);
    for t in idl.types.keys().filter(|t| !ours.contains(*t)) {
        out.push(format!("type {t}: in the IDL, no type"));
    }
    check_event(&idl, &mut out);
    assert!(
        out.is_empty(),
        "the IDL and the proto types differ:\n{}",
        out.join("\n")
    );
}

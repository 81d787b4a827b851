//! The `org.varlink.service` interface every Varlink service provides, sans IO.
//!
//! It lets `varlinkctl info` / `varlinkctl introspect` (and any other generic
//! client) discover what the service is and which interfaces it implements.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::message::{Call, Reply, VarlinkError};
use super::params;

/// Name of the introspection interface, to route calls to [`handle`].
pub const INTERFACE: &str = "org.varlink.service";

/// The `org.varlink.service` interface definition as published in UAPI.20,
/// served verbatim by `GetInterfaceDescription`.
pub const IDL: &str = "\
# The Varlink Service Interface should be provided by every varlink service.
# It describes the service and the interfaces it implements.
interface org.varlink.service

# Get a list of all the interfaces a service provides and information
# about the implementation.
method GetInfo() -> (
  vendor: string,
  product: string,
  version: string,
  url: string,
  interfaces: []string
)

# Get the description of an interface that is implemented by this service.
method GetInterfaceDescription(interface: string) -> (description: string)

# The requested interface was not found.
error InterfaceNotFound (interface: string)

# The requested method was not found
error MethodNotFound (method: string)

# The interface defines the requested method, but the service does not
# implement it.
error MethodNotImplemented (method: string)

# One of the passed parameters is invalid.
error InvalidParameter (parameter: string)

# Client is denied access
error PermissionDenied ()

# Method is expected to be called with 'more' set to true, but wasn't
error ExpectedMore ()

# Method is expected to be called with 'upgrade' set to true, but wasn't
error ExpectedUpgrade ()
";

/// What `GetInfo` tells clients about this program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceInfo {
    /// Who makes it.
    pub vendor: String,
    /// The program's name.
    pub product: String,
    /// Its version, typically `CARGO_PKG_VERSION`.
    pub version: String,
    /// Where to learn more about it.
    pub url: String,
}

/// An interface the service implements, beyond `org.varlink.service`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interface {
    /// Fully qualified name, e.g. `io.podmon.Pod`.
    pub name: &'static str,
    /// The `.varlink` file text (typically `include_str!`), served verbatim so
    /// clients see the documentation comments too.
    pub description: &'static str,
}

/// Answers `org.varlink.service.GetInfo` and `GetInterfaceDescription`.
///
/// Other members of `org.varlink.service` get `MethodNotFound`; a call to
/// another interface gets `InterfaceNotFound` (route only
/// `org.varlink.service` calls here). Parameters are checked like any other
/// method's: unknown or missing ones are `InvalidParameter`. The caller still
/// decides whether to send the reply (`oneway`).
pub fn handle(
    call: &Call,
    info: &ServiceInfo,
    interfaces: &[Interface],
) -> Result<Reply, VarlinkError> {
    if call.interface() != INTERFACE {
        return Err(VarlinkError::interface_not_found(call.interface()));
    }
    match call.member() {
        "GetInfo" => {
            let NoParameters {} = params::decode(&call.parameters)?;
            Ok(Reply::ok(params::encode(&GetInfoReply {
                vendor: &info.vendor,
                product: &info.product,
                version: &info.version,
                url: &info.url,
                interfaces: interface_names(interfaces),
            })))
        }
        "GetInterfaceDescription" => {
            let GetInterfaceDescription { interface } = params::decode(&call.parameters)?;
            let description = describe(&interface, interfaces)
                .ok_or_else(|| VarlinkError::interface_not_found(&interface))?;
            let mut parameters = serde_json::Map::new();
            parameters.insert(
                "description".to_owned(),
                Value::String(description.to_owned()),
            );
            Ok(Reply::ok(parameters))
        }
        _ => Err(VarlinkError::method_not_found(&call.method)),
    }
}

/// The error for a call nobody handles: `InterfaceNotFound` when no
/// implemented interface has the call's interface name, `MethodNotFound`
/// otherwise. Lets the dispatcher answer unknown calls as the specification
/// describes.
///
/// (systemd's sd-varlink answers `MethodNotFound` for both cases; the
/// specification's error table distinguishes them, which we follow.)
pub fn unknown_method(call: &Call, interfaces: &[Interface]) -> VarlinkError {
    let interface = call.interface();
    if interface == INTERFACE || interfaces.iter().any(|i| i.name == interface) {
        VarlinkError::method_not_found(&call.method)
    } else {
        VarlinkError::interface_not_found(interface)
    }
}

/// The interface names `GetInfo` lists: `org.varlink.service` first, then the
/// given ones in order, without duplicates.
fn interface_names(interfaces: &[Interface]) -> Vec<&'static str> {
    let mut names = vec![INTERFACE];
    for interface in interfaces {
        if !names.contains(&interface.name) {
            names.push(interface.name);
        }
    }
    names
}

fn describe(name: &str, interfaces: &[Interface]) -> Option<&'static str> {
    if name == INTERFACE {
        return Some(IDL);
    }
    interfaces
        .iter()
        .find(|i| i.name == name)
        .map(|i| i.description)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoParameters {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GetInterfaceDescription {
    interface: String,
}

#[derive(Serialize)]
struct GetInfoReply<'a> {
    vendor: &'a str,
    product: &'a str,
    version: &'a str,
    url: &'a str,
    interfaces: Vec<&'static str>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::varlink::message::{INTERFACE_NOT_FOUND, INVALID_PARAMETER, METHOD_NOT_FOUND};
    use serde_json::json;

    const POD_IDL: &str = "interface io.podmon.Pod\n\nmethod Ping() -> ()\n";

    fn info() -> ServiceInfo {
        ServiceInfo {
            vendor: "podmon".into(),
            product: "podmon".into(),
            version: "0.1.0".into(),
            url: "https://example.invalid/podmon".into(),
        }
    }

    fn interfaces() -> [Interface; 1] {
        [Interface {
            name: "io.podmon.Pod",
            description: POD_IDL,
        }]
    }

    fn call(method: &str, parameters: Value) -> Call {
        let Value::Object(parameters) = parameters else {
            panic!("not an object")
        };
        Call::new(method, parameters)
    }

    #[test]
    fn get_info() {
        let reply = handle(
            &call("org.varlink.service.GetInfo", json!({})),
            &info(),
            &interfaces(),
        )
        .unwrap();
        assert_eq!(reply.error, None);
        assert!(!reply.continues);
        assert_eq!(
            Value::Object(reply.parameters),
            json!({
                "vendor": "podmon",
                "product": "podmon",
                "version": "0.1.0",
                "url": "https://example.invalid/podmon",
                "interfaces": ["org.varlink.service", "io.podmon.Pod"],
            })
        );
    }

    #[test]
    fn get_info_refuses_parameters() {
        let err = handle(
            &call("org.varlink.service.GetInfo", json!({"x": 1})),
            &info(),
            &interfaces(),
        )
        .unwrap_err();
        assert_eq!(err, VarlinkError::invalid_parameter("x"));
    }

    #[test]
    fn get_interface_description_known() {
        for (name, text) in [("io.podmon.Pod", POD_IDL), (INTERFACE, IDL)] {
            let reply = handle(
                &call(
                    "org.varlink.service.GetInterfaceDescription",
                    json!({"interface": name}),
                ),
                &info(),
                &interfaces(),
            )
            .unwrap();
            assert_eq!(
                Value::Object(reply.parameters),
                json!({"description": text})
            );
        }
    }

    #[test]
    fn get_interface_description_unknown() {
        let err = handle(
            &call(
                "org.varlink.service.GetInterfaceDescription",
                json!({"interface": "org.example.nope"}),
            ),
            &info(),
            &interfaces(),
        )
        .unwrap_err();
        assert_eq!(err.name, INTERFACE_NOT_FOUND);
        assert_eq!(
            Value::Object(err.parameters),
            json!({"interface": "org.example.nope"})
        );
    }

    #[test]
    fn get_interface_description_needs_interface() {
        let err = handle(
            &call("org.varlink.service.GetInterfaceDescription", json!({})),
            &info(),
            &interfaces(),
        )
        .unwrap_err();
        assert_eq!(err.name, INVALID_PARAMETER);
        assert_eq!(
            Value::Object(err.parameters),
            json!({"parameter": "interface"})
        );
    }

    #[test]
    fn other_members_and_interfaces() {
        let err = handle(
            &call("org.varlink.service.Frobnicate", json!({})),
            &info(),
            &interfaces(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            VarlinkError::method_not_found("org.varlink.service.Frobnicate")
        );
        let err = handle(
            &call("io.podmon.Pod.Ping", json!({})),
            &info(),
            &interfaces(),
        )
        .unwrap_err();
        assert_eq!(err, VarlinkError::interface_not_found("io.podmon.Pod"));
    }

    #[test]
    fn unknown_method_distinguishes_interface_and_member() {
        let ifaces = interfaces();
        let err = unknown_method(&call("io.podmon.Pod.Nope", json!({})), &ifaces);
        assert_eq!(err.name, METHOD_NOT_FOUND);
        assert_eq!(
            Value::Object(err.parameters),
            json!({"method": "io.podmon.Pod.Nope"})
        );
        let err = unknown_method(&call("org.varlink.service.Nope", json!({})), &ifaces);
        assert_eq!(err.name, METHOD_NOT_FOUND);
        let err = unknown_method(&call("org.example.Nope", json!({})), &ifaces);
        assert_eq!(err, VarlinkError::interface_not_found("org.example"));
    }

    #[test]
    fn idl_names_its_interface_and_all_standard_errors() {
        assert!(IDL.lines().any(|l| l == "interface org.varlink.service"));
        for error in [
            "InterfaceNotFound",
            "MethodNotFound",
            "MethodNotImplemented",
            "InvalidParameter",
            "PermissionDenied",
            "ExpectedMore",
            "ExpectedUpgrade",
        ] {
            assert!(IDL.contains(&format!("\nerror {error} (")), "{error}");
        }
        assert!(IDL.ends_with("error ExpectedUpgrade ()\n"));
    }

    #[test]
    fn pod_idl_file_names_its_interface() {
        let pod = include_str!("../../varlink/io.podmon.Pod.varlink");
        assert!(pod.lines().any(|l| l.trim() == "interface io.podmon.Pod"));
    }
}

//! Error replies: the names `org.varlink.service` defines and the
//! [`VarlinkError`] handlers return, so a failure becomes a reply in one place.

use std::fmt;

use serde_json::{Map, Value};

use super::Reply;

/// `org.varlink.service.InterfaceNotFound`.
pub const INTERFACE_NOT_FOUND: &str = "org.varlink.service.InterfaceNotFound";
/// `org.varlink.service.MethodNotFound`.
pub const METHOD_NOT_FOUND: &str = "org.varlink.service.MethodNotFound";
/// `org.varlink.service.MethodNotImplemented`.
pub const METHOD_NOT_IMPLEMENTED: &str = "org.varlink.service.MethodNotImplemented";
/// `org.varlink.service.InvalidParameter`.
pub const INVALID_PARAMETER: &str = "org.varlink.service.InvalidParameter";
/// `org.varlink.service.PermissionDenied`.
pub const PERMISSION_DENIED: &str = "org.varlink.service.PermissionDenied";
/// `org.varlink.service.ExpectedMore`.
pub const EXPECTED_MORE: &str = "org.varlink.service.ExpectedMore";
/// `org.varlink.service.ExpectedUpgrade`.
pub const EXPECTED_UPGRADE: &str = "org.varlink.service.ExpectedUpgrade";

/// An error reply in the making: a qualified name plus parameters.
///
/// Handlers return it so the dispatcher can turn it into a [`Reply`] (or drop
/// it for `oneway` calls) in one place.
#[derive(Debug, Clone, PartialEq)]
pub struct VarlinkError {
    /// Qualified error name, e.g. `io.podmon.Pod.NoSuchContainer`.
    pub name: String,
    /// The error's parameters as declared in the interface.
    pub parameters: Map<String, Value>,
}

impl VarlinkError {
    /// Builds an error from its name and a JSON object of parameters; `null`
    /// means no parameters. Any other non-object value is a programming error:
    /// it is logged and stored under `"value"` rather than lost.
    pub fn new(name: impl Into<String>, parameters: Value) -> Self {
        let name = name.into();
        let parameters = match parameters {
            Value::Object(map) => map,
            Value::Null => Map::new(),
            other => {
                log::error!("varlink error {name} built with non-object parameters {other}");
                let mut map = Map::new();
                map.insert("value".to_owned(), other);
                map
            }
        };
        VarlinkError { name, parameters }
    }

    /// The call named an interface this service does not implement.
    pub fn interface_not_found(interface: &str) -> Self {
        Self::with_string(INTERFACE_NOT_FOUND, "interface", interface)
    }

    /// The interface is known but has no such member; `method` is the fully
    /// qualified name the client sent.
    pub fn method_not_found(method: &str) -> Self {
        Self::with_string(METHOD_NOT_FOUND, "method", method)
    }

    /// The interface declares the method but this service does not provide it.
    pub fn method_not_implemented(method: &str) -> Self {
        Self::with_string(METHOD_NOT_IMPLEMENTED, "method", method)
    }

    /// A parameter is missing, unknown or of the wrong type; `parameter` names
    /// it (a path such as `env[2]` for nested values).
    pub fn invalid_parameter(parameter: &str) -> Self {
        Self::with_string(INVALID_PARAMETER, "parameter", parameter)
    }

    /// The method only works with `more` set.
    pub fn expected_more() -> Self {
        Self::new(EXPECTED_MORE, Value::Null)
    }

    /// The method only works with `upgrade` set.
    pub fn expected_upgrade() -> Self {
        Self::new(EXPECTED_UPGRADE, Value::Null)
    }

    /// The peer is not allowed to make this call.
    pub fn permission_denied() -> Self {
        Self::new(PERMISSION_DENIED, Value::Null)
    }

    /// Whether this is the error `name`; saves string compares at call sites.
    pub fn is(&self, name: &str) -> bool {
        self.name == name
    }

    /// The error reply to send.
    pub fn into_reply(self) -> Reply {
        Reply {
            parameters: self.parameters,
            continues: false,
            error: Some(self.name),
        }
    }

    fn with_string(name: &str, key: &str, value: &str) -> Self {
        let mut parameters = Map::new();
        parameters.insert(key.to_owned(), Value::String(value.to_owned()));
        VarlinkError {
            name: name.to_owned(),
            parameters,
        }
    }
}

/// Renders `name: key=value, ...` with strings unquoted, for logs and CLI
/// messages.
impl fmt::Display for VarlinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        let mut sep = ": ";
        for (key, value) in &self.parameters {
            match value {
                Value::String(s) => write!(f, "{sep}{key}={s}")?,
                other => write!(f, "{sep}{key}={other}")?,
            }
            sep = ", ";
        }
        Ok(())
    }
}

impl std::error::Error for VarlinkError {}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn standard_errors() {
        let cases = [
            (
                VarlinkError::interface_not_found("x.y"),
                INTERFACE_NOT_FOUND,
                json!({"interface": "x.y"}),
            ),
            (
                VarlinkError::method_not_found("x.y.Z"),
                METHOD_NOT_FOUND,
                json!({"method": "x.y.Z"}),
            ),
            (
                VarlinkError::method_not_implemented("x.y.Z"),
                METHOD_NOT_IMPLEMENTED,
                json!({"method": "x.y.Z"}),
            ),
            (
                VarlinkError::invalid_parameter("id"),
                INVALID_PARAMETER,
                json!({"parameter": "id"}),
            ),
            (VarlinkError::expected_more(), EXPECTED_MORE, json!({})),
            (
                VarlinkError::expected_upgrade(),
                EXPECTED_UPGRADE,
                json!({}),
            ),
            (
                VarlinkError::permission_denied(),
                PERMISSION_DENIED,
                json!({}),
            ),
        ];
        for (err, name, params) in cases {
            assert_eq!(err.name, name);
            assert_eq!(Value::Object(err.parameters), params);
        }
        assert_eq!(VarlinkError::expected_more().to_string(), EXPECTED_MORE);
        let odd = VarlinkError::new("a.b.E", json!(3));
        assert_eq!(Value::Object(odd.parameters), json!({"value": 3}));
    }
}

//! The Varlink grammar's names: interfaces, and the `interface.Member`
//! shape shared by methods and errors.

/// Whether `name` is `interface.Member` per the Varlink grammar; error names
/// have the same shape.
pub fn is_method_name(name: &str) -> bool {
    match name.rsplit_once('.') {
        Some((interface, member)) => is_interface_name(interface) && is_member_name(member),
        None => false,
    }
}

/// Whether `name` is a valid interface name: at least two dot-separated
/// components of letters, digits and inner hyphens, the first starting with a
/// letter.
pub fn is_interface_name(name: &str) -> bool {
    let mut components = name.split('.');
    let Some(first) = components.next() else {
        return false;
    };
    if !first.starts_with(|c: char| c.is_ascii_alphabetic()) || !is_component(first) {
        return false;
    }
    let mut rest = 0;
    for component in components {
        if !is_component(component) {
            return false;
        }
        rest += 1;
    }
    rest > 0
}

/// One interface name component: `[A-Za-z0-9]([-]*[A-Za-z0-9])*`.
fn is_component(c: &str) -> bool {
    !c.is_empty()
        && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !c.starts_with('-')
        && !c.ends_with('-')
}

/// A type, method or error name: `[A-Z][A-Za-z0-9]*`.
fn is_member_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_uppercase())
        && name.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_method_names() {
        for good in [
            "a.b.C",
            "io.podmon.Pod.GetContainer",
            "org.varlink.service.GetInfo",
            "a-b.1c.X9",
            "x.2.Y",
        ] {
            assert!(is_method_name(good), "{good}");
        }
    }
}

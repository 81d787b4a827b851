//! A reader for the Varlink IDL, just enough of the grammar for
//! `varlink/io.podmon.Pod.varlink`: the test that holds the proto types to
//! the IDL needs its types, methods and errors as data.

use std::collections::BTreeMap;

/// A field's type as the IDL writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ty {
    /// `bool`
    Bool,
    /// `int`
    Int,
    /// `float`
    Float,
    /// `string`
    String,
    /// `object`
    Object,
    /// A named type of the interface.
    Named(String),
    /// `[]T`
    Array(Box<Ty>),
    /// `[string]T`
    Map(Box<Ty>),
    /// `?T`
    Optional(Box<Ty>),
}

/// One field of a struct, a method's parameters or replies, or an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// Its name.
    pub name: String,
    /// Its type.
    pub ty: Ty,
}

impl Field {
    /// Whether the IDL marks it optional (`?`).
    pub fn optional(&self) -> bool {
        matches!(self.ty, Ty::Optional(_))
    }
}

/// A named type: an enum's values or a struct's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeDef {
    /// `type X (a, b)`
    Enum(Vec<String>),
    /// `type X (a: T, ...)`
    Struct(Vec<Field>),
}

/// What an interface declares.
#[derive(Debug, Default)]
pub struct Idl {
    /// The interface's name.
    pub name: String,
    /// Named types.
    pub types: BTreeMap<String, TypeDef>,
    /// Methods: parameters and replies.
    pub methods: BTreeMap<String, (Vec<Field>, Vec<Field>)>,
    /// Errors and their parameters.
    pub errors: BTreeMap<String, Vec<Field>>,
}

fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut word = String::new();
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            if c.is_alphanumeric() || c == '_' || c == '.' {
                word.push(c);
                continue;
            }
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            if c == '-' && chars.peek() == Some(&'>') {
                chars.next();
                out.push("->".into());
            } else if !c.is_whitespace() {
                out.push(c.to_string());
            }
        }
        if !word.is_empty() {
            out.push(word);
        }
    }
    out
}

struct Parser {
    tokens: Vec<String>,
    at: usize,
}

impl Parser {
    fn next(&mut self) -> String {
        let t = self.tokens.get(self.at).cloned().expect("IDL ends early");
        self.at += 1;
        t
    }

    fn peek(&self, offset: usize) -> Option<&str> {
        self.tokens.get(self.at + offset).map(String::as_str)
    }

    fn expect(&mut self, what: &str) {
        let t = self.next();
        assert_eq!(t, what, "IDL: expected {what:?} at token {}", self.at);
    }

    fn ty(&mut self) -> Ty {
        match self.next().as_str() {
            "?" => Ty::Optional(Box::new(self.ty())),
            "[" if self.peek(0) == Some("]") => {
                self.next();
                Ty::Array(Box::new(self.ty()))
            }
            "[" => {
                self.expect("string");
                self.expect("]");
                Ty::Map(Box::new(self.ty()))
            }
            "bool" => Ty::Bool,
            "int" => Ty::Int,
            "float" => Ty::Float,
            "string" => Ty::String,
            "object" => Ty::Object,
            name => Ty::Named(name.to_owned()),
        }
    }

    /// `( name: T, ... )`, the opening parenthesis already read.
    fn fields(&mut self) -> Vec<Field> {
        let mut out = Vec::new();
        while self.peek(0) != Some(")") {
            let name = self.next();
            self.expect(":");
            out.push(Field {
                name,
                ty: self.ty(),
            });
            if self.peek(0) == Some(",") {
                self.next();
            }
        }
        self.expect(")");
        out
    }

    fn type_def(&mut self) -> TypeDef {
        self.expect("(");
        if self.peek(1) == Some(":") || self.peek(0) == Some(")") {
            return TypeDef::Struct(self.fields());
        }
        let mut values = Vec::new();
        loop {
            values.push(self.next());
            if self.next() == ")" {
                return TypeDef::Enum(values);
            }
        }
    }
}

/// Reads an interface description.
pub fn parse(text: &str) -> Idl {
    let mut p = Parser {
        tokens: tokens(text),
        at: 0,
    };
    let mut idl = Idl::default();
    while p.peek(0).is_some() {
        match p.next().as_str() {
            "interface" => idl.name = p.next(),
            "type" => {
                let name = p.next();
                let def = p.type_def();
                idl.types.insert(name, def);
            }
            "method" => {
                let name = p.next();
                p.expect("(");
                let params = p.fields();
                p.expect("->");
                p.expect("(");
                idl.methods.insert(name, (params, p.fields()));
            }
            "error" => {
                let name = p.next();
                p.expect("(");
                idl.errors.insert(name, p.fields());
            }
            other => panic!("IDL: unexpected {other:?}"),
        }
    }
    idl
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_kind_of_declaration() {
        let idl = parse(
            "# c\ninterface a.b\ntype E (x, y)\ntype S(\n # doc\n f: ?[]string,\n g: E\n)\n\
             method M(a: int) -> (b: ?S)\nmethod N() -> ()\nerror Bad(why: [string]float)\n",
        );
        assert_eq!(idl.name, "a.b");
        assert_eq!(idl.types["E"], TypeDef::Enum(vec!["x".into(), "y".into()]));
        let TypeDef::Struct(s) = &idl.types["S"] else {
            panic!("S is a struct")
        };
        assert_eq!(
            s[0].ty,
            Ty::Optional(Box::new(Ty::Array(Box::new(Ty::String))))
        );
        assert_eq!(s[1].ty, Ty::Named("E".into()));
        assert!(s[0].optional() && !s[1].optional());
        assert_eq!(idl.methods["M"].0[0].ty, Ty::Int);
        assert_eq!(idl.methods["N"], (vec![], vec![]));
        assert_eq!(idl.errors["Bad"][0].ty, Ty::Map(Box::new(Ty::Float)));
    }
}

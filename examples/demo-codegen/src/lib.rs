//! Generates Rust source text. Only ever used as a build-dependency (by ws-app).

/// Source text of a `pub const NAME: u32 = VALUE;` item.
pub fn const_item(name: &str, value: u32) -> String {
    format!("pub const {name}: u32 = {value};\n")
}

#[cfg(test)]
mod tests {
    #[test]
    fn writes_a_const() {
        assert_eq!(super::const_item("X", 7), "pub const X: u32 = 7;\n");
    }
}

//! Uses each kind of dependency that a registry index has to describe.

/// demo-base's greeting when the `base` feature is on.
pub fn base_greeting() -> Option<&'static str> {
    #[cfg(feature = "base")]
    {
        Some(demo_base::greeting())
    }
    #[cfg(not(feature = "base"))]
    {
        None
    }
}

/// Whether demo-base was built with `some-feature`, when the `base` feature is on. With
/// `extra` on as well, the weak feature makes this `Some(true)`.
pub fn base_some_feature() -> Option<bool> {
    #[cfg(feature = "base")]
    {
        Some(demo_base::some_feature())
    }
    #[cfg(not(feature = "base"))]
    {
        None
    }
}

/// Whether the `extra` feature is on.
pub fn extra() -> bool {
    cfg!(feature = "extra")
}

/// Formats a number with the crates.io dependency `itoa`.
pub fn format_number(n: u64) -> String {
    itoa::Buffer::new().format(n).to_owned()
}

/// Text from the renamed dependency (package ws-core).
pub fn renamed_describe() -> String {
    renamed::describe()
}

/// What demo-sys's build script set, on targets where demo-sys is a dependency.
pub fn sys_built() -> Option<&'static str> {
    #[cfg(unix)]
    {
        Some(demo_sys::built())
    }
    #[cfg(not(unix))]
    {
        None
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_numbers() {
        assert_eq!(super::format_number(1234567), "1234567");
    }
}

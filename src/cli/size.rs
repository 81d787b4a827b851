//! Human-friendly byte sizes for limits such as `--memory-max 64M`.

use thiserror::Error;

/// Why a size argument was refused; clap shows it next to the option name.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SizeError {
    /// Nothing was given.
    #[error("empty size")]
    Empty,
    /// The text is not digits followed by an optional K, M, G or T suffix.
    #[error(
        "invalid size {0:?}: expected a number of bytes with an optional K, M, G or T suffix (powers of 1024), e.g. 64M"
    )]
    Invalid(String),
    /// The size does not fit in a Varlink `int` (a signed 64-bit integer).
    #[error("size {0:?} is too large")]
    TooLarge(String),
}

/// Parses `1024`, `64K`, `64M`, `1G`, `2T` (also lower case, and with a
/// trailing `B` or `iB` as in `64MiB`) into bytes, with powers of 1024 as
/// cgroups and container tools use them.
pub fn parse_size(text: &str) -> Result<u64, SizeError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(SizeError::Empty);
    }
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (digits, suffix) = trimmed.split_at(split);
    if digits.is_empty() {
        return Err(SizeError::Invalid(text.to_owned()));
    }
    let shift = match suffix.to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        _ => return Err(SizeError::Invalid(text.to_owned())),
    };
    let number: u64 = digits
        .parse()
        .map_err(|_| SizeError::TooLarge(text.to_owned()))?;
    let bytes = number
        .checked_mul(1u64 << shift)
        .filter(|&b| i64::try_from(b).is_ok())
        .ok_or_else(|| SizeError::TooLarge(text.to_owned()))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_suffixed_sizes() {
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("512B"), Ok(512));
        assert_eq!(parse_size("64K"), Ok(64 * 1024));
        assert_eq!(parse_size("64k"), Ok(64 * 1024));
        assert_eq!(parse_size("64M"), Ok(64 * 1024 * 1024));
        assert_eq!(parse_size("64MiB"), Ok(64 * 1024 * 1024));
        assert_eq!(parse_size("64mb"), Ok(64 * 1024 * 1024));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("2T"), Ok(2 << 40));
        assert_eq!(parse_size(" 8M "), Ok(8 << 20));
    }

    #[test]
    fn bad_sizes() {
        assert_eq!(parse_size(""), Err(SizeError::Empty));
        assert_eq!(parse_size("  "), Err(SizeError::Empty));
        for bad in ["M", "-1", "1.5G", "64X", "64 M", "0x10", "1MM", "+5"] {
            assert_eq!(
                parse_size(bad),
                Err(SizeError::Invalid(bad.to_owned())),
                "{bad}"
            );
        }
        assert_eq!(
            parse_size("99999999999999999999"),
            Err(SizeError::TooLarge("99999999999999999999".into()))
        );
        assert_eq!(
            parse_size("8388608T"),
            Err(SizeError::TooLarge("8388608T".into()))
        );
        assert_eq!(parse_size("8388607T"), Ok(8_388_607u64 << 40));
    }
}

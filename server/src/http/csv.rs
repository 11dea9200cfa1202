//! CSV rows for exports (RFC 4180: comma-separated, CRLF, fields with a
//! comma, quote or line break quoted). Cells that a spreadsheet would run as
//! a formula (`=`, `+`, `-`, `@`, tab, CR) get a leading `'`, so an exported
//! partner name cannot execute anything when opened.

pub fn row(fields: &[&str]) -> String {
    let mut out = String::new();
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&cell(f));
    }
    out.push_str("\r\n");
    out
}

fn cell(value: &str) -> String {
    let defused = match value.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{value}"),
        _ => value.to_string(),
    };
    if defused.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells() {
        let cases = [
            ("plain", "plain"),
            ("", ""),
            ("a,b", "\"a,b\""),
            ("say \"hi\"", "\"say \"\"hi\"\"\""),
            ("two\nlines", "\"two\nlines\""),
            ("=HYPERLINK(\"x\")", "\"'=HYPERLINK(\"\"x\"\")\""),
            ("+1", "'+1"),
            ("-1", "'-1"),
            ("@sum", "'@sum"),
            ("a → b", "a → b"),
        ];
        for (input, want) in cases {
            assert_eq!(cell(input), want, "{input:?}");
        }
    }

    #[test]
    fn rows_end_with_crlf() {
        assert_eq!(row(&["a", "b,c", ""]), "a,\"b,c\",\r\n");
    }
}

//! CSV rows for exports (RFC 4180: comma-separated, CRLF, fields with a
//! comma, quote or line break quoted). Cells that a spreadsheet would run as
//! a formula (`=`, `+`, `-`, `@`, tab, CR) get a leading `'`, so an exported
//! partner name cannot execute anything when opened.

use app::error::AppError;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::future::Future;

/// Rows fetched per query while streaming.
const CHUNK: i64 = 500;

/// Streams a CSV download: the header row, then chunks of rows fetched by
/// id after the last one sent, until a short chunk. Only one chunk is held
/// in memory, so 100,000 rows cost what 500 do. Access was decided before
/// the first byte; `fetch` only reads.
pub fn download<T, F, Fut>(filename: &str, header_row: &[&str], fetch: F, to_row: fn(&T) -> String, id_of: fn(&T) -> i64) -> Response
where
    T: Send + 'static,
    F: Fn(i64, i64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Vec<T>, AppError>> + Send + 'static,
{
    let head = row(header_row);
    let fetch = std::sync::Arc::new(fetch);
    let chunks = futures::stream::unfold((0_i64, false), move |(after, done)| {
        let fetch = fetch.clone();
        async move {
            if done {
                return None;
            }
            match fetch(after, CHUNK).await {
                Ok(items) => {
                    let last = items.last().map(id_of);
                    let text: String = items.iter().map(to_row).collect();
                    let finished = (items.len() as i64) < CHUNK || last.is_none();
                    Some((Ok::<_, std::io::Error>(text), (last.unwrap_or(after), finished)))
                }
                Err(e) => {
                    // Headers are gone: all we can do is cut the body short.
                    tracing::error!(error = %e, "CSV export failed");
                    Some((Err(std::io::Error::other("export failed")), (after, true)))
                }
            }
        }
    });
    // Fused: the compression layer may poll once more after the end.
    let body = futures::StreamExt::fuse(futures::StreamExt::chain(futures::stream::once(async move { Ok(head) }), chunks));
    let date = chrono::Utc::now().format("%Y-%m-%d");
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}-{date}.csv\"")),
        ],
        axum::body::Body::from_stream(body),
    )
        .into_response()
}

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

/// One field. Text a spreadsheet would run as a formula (first character,
/// after any blanks, one of `= + - @`, or a tab or CR) gets a `'` in front,
/// unless it is a plain number (the exports' own negative hours). Fields
/// holding a separator of any locale (`,` or `;`), a quote or a line break
/// are quoted: in a `;` locale, `Widget;=1+1` unquoted would split into a
/// second field that starts a formula.
fn cell(value: &str) -> String {
    let formula = matches!(value.trim_start_matches(' ').chars().next(), Some('=' | '+' | '-' | '@' | '\t' | '\r'));
    let defused = if formula && value.trim().parse::<f64>().is_err() { format!("'{value}") } else { value.to_string() };
    if defused.contains([',', ';', '"', '\n', '\r', '\t']) {
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
            ("+1x", "'+1x"),
            ("-1+1", "'-1+1"),
            ("@sum", "'@sum"),
            ("a → b", "a → b"),
            // Numbers stay numbers (the issue export's hours left).
            ("-3.5", "-3.5"),
            ("+2", "+2"),
            // A formula behind blanks is still one.
            ("  =1+1", "'  =1+1"),
            ("\t=1+1", "\"'\t=1+1\""),
            // `;` separates fields in some locales: quoted, a formula after it stays text.
            ("Widget;=1+1", "\"Widget;=1+1\""),
            ("Bug;=cmd|' /C calc'!A0", "\"Bug;=cmd|' /C calc'!A0\""),
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

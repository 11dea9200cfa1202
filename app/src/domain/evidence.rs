//! Evidence files attached to a task's report: what we accept and how we
//! name and serve them. A file is stored under a random key, never under
//! the name it came with; the name is kept only to show and to offer as the
//! download's name. Served files are always downloads, with a content type
//! picked from a short list by extension (never the uploader's claim), so
//! an uploaded HTML or SVG page cannot run in the tracker's origin.

use serde::{Deserialize, Serialize};

/// A stored file, as task histories show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidenceFile {
    pub id: i64,
    pub name: String,
    pub size: i64,
    pub content_type: String,
}

impl EvidenceFile {
    /// Where people download it.
    pub fn href(&self) -> String {
        format!("/api/v1/evidence/{}", self.id)
    }

    /// "12.3 KB"
    pub fn size_label(&self) -> String {
        size_label(self.size)
    }
}

pub const MAX_NAME_CHARS: usize = 120;

/// A file name fit to show and to put in a header: the last path segment,
/// without control characters, invisible formatting or quotes, at most
/// [`MAX_NAME_CHARS`]. (A right-to-left override would show
/// `report\u{202E}fdp.exe` as "reportexe.pdf".)
pub fn clean_name(raw: &str) -> Result<String, String> {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last.chars().filter(|c| !c.is_control() && !is_invisible_format(*c) && !matches!(c, '"' | ';')).collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim();
    if cleaned.is_empty() {
        return Err("the file needs a name".into());
    }
    Ok(cleaned.chars().take(MAX_NAME_CHARS).collect())
}

/// Zero-width characters and bidirectional controls (Unicode's format
/// characters that change how a name reads, not what it says).
fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{FEFF}')
}

/// Checks an upload's size against the limit.
pub fn check_size(size: u64, max: u64) -> Result<(), String> {
    if size == 0 {
        Err("the file is empty".into())
    } else if size > max {
        Err(format!("the file is larger than {} (the limit)", size_label(max as i64)))
    } else {
        Ok(())
    }
}

/// The content type a download is served with, from the name's extension.
pub fn content_type(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "txt" | "log" | "md" => "text/plain; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "json" => "application/json",
        "zip" => "application/zip",
        "gz" | "tgz" => "application/gzip",
        _ => "application/octet-stream",
    }
}

pub fn size_label(bytes: i64) -> String {
    let b = bytes as f64;
    if bytes < 1024 {
        format!("{bytes} B")
    } else if b < 1024.0 * 1024.0 {
        format!("{:.1} KB", b / 1024.0)
    } else {
        format!("{:.1} MB", b / (1024.0 * 1024.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cleaned() {
        let cases = [
            ("report.pdf", Ok("report.pdf")),
            ("C:\\Users\\me\\test run.log", Ok("test run.log")),
            ("../../etc/passwd", Ok("passwd")),
            ("a\"b;c\r\n.txt", Ok("abc.txt")),
            (".htaccess", Ok("htaccess")),
            ("report\u{202E}fdp.exe", Ok("reportfdp.exe")),
            ("in\u{200B}voice\u{2066}.pdf\u{FEFF}", Ok("invoice.pdf")),
            ("dir/", Err(())),
            ("  ", Err(())),
            ("...", Err(())),
        ];
        for (raw, want) in cases {
            match (clean_name(raw), want) {
                (Ok(got), Ok(w)) => assert_eq!(got, w, "{raw:?}"),
                (Err(_), Err(())) => {}
                (got, _) => panic!("{raw:?}: {got:?}"),
            }
        }
        assert_eq!(clean_name(&"x".repeat(500)).unwrap().chars().count(), MAX_NAME_CHARS);
    }

    #[test]
    fn sizes() {
        assert!(check_size(0, 10).is_err());
        assert!(check_size(10, 10).is_ok());
        assert_eq!(check_size(11 * 1024 * 1024, 10 * 1024 * 1024), Err("the file is larger than 10.0 MB (the limit)".into()));
        assert_eq!(size_label(512), "512 B");
        assert_eq!(size_label(1536), "1.5 KB");
    }

    #[test]
    fn content_types_come_from_a_short_list() {
        for (name, want) in [
            ("a.PDF", "application/pdf"),
            ("shot.png", "image/png"),
            ("run.log", "text/plain; charset=utf-8"),
            ("page.html", "application/octet-stream"),
            ("image.svg", "application/octet-stream"),
            ("noext", "application/octet-stream"),
        ] {
            assert_eq!(content_type(name), want, "{name}");
        }
    }
}

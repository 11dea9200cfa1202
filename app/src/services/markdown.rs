//! Notes and comments are Markdown, rendered on the server into HTML that
//! cannot carry anything active: raw HTML in the source is shown as text,
//! links keep only http(s)/mailto/relative targets and get
//! `rel="nofollow noopener noreferrer"`, images become links (nothing is
//! loaded from elsewhere when a reviewer opens a page).

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd};
use pulldown_cmark_escape::escape_href;

/// Longest note we render; longer ones were refused at input already.
const MAX_SOURCE: usize = 20_000;

/// The HTML for a Markdown note.
pub fn render(source: &str) -> String {
    let source = if source.len() > MAX_SOURCE { &source[..floor_char_boundary(source, MAX_SOURCE)] } else { source };
    let options = Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES | Options::ENABLE_TASKLISTS;
    let events = Parser::new_ext(source, options).map(|event| match event {
        // Raw HTML is text, never markup.
        Event::Html(html) | Event::InlineHtml(html) => Event::Text(html),
        Event::Start(Tag::Link { dest_url, .. }) => Event::InlineHtml(open_link(&dest_url)),
        Event::End(TagEnd::Link) => Event::InlineHtml("</a>".into()),
        // An image is shown as a link to it, with its alt text.
        Event::Start(Tag::Image { dest_url, .. }) => Event::InlineHtml(open_link(&dest_url)),
        Event::End(TagEnd::Image) => Event::InlineHtml("</a>".into()),
        other => other,
    });
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, events);
    html
}

fn open_link(url: &str) -> CowStr<'static> {
    let mut href = String::new();
    if safe_url(url) {
        // Percent-encodes what a URL may not hold and turns & and ' into
        // entities: safe inside a double-quoted attribute.
        let _ = escape_href(&mut href, url);
    } else {
        href.push('#');
    }
    format!("<a href=\"{href}\" rel=\"nofollow noopener noreferrer\">").into()
}

/// http, https and mailto, or a relative link (no scheme at all).
fn safe_url(url: &str) -> bool {
    let url = url.trim();
    match url.find(':') {
        None => true,
        Some(colon) => {
            let before = &url[..colon];
            // A colon after a path or query character is not a scheme.
            if before.contains(['/', '?', '#']) {
                return true;
            }
            matches!(before.to_ascii_lowercase().as_str(), "http" | "https" | "mailto")
        }
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_markdown_and_defuses_everything_active() {
        let cases = [
            ("**bold** and _em_", "<p><strong>bold</strong> and <em>em</em></p>\n"),
            ("- a\n- b", "<ul>\n<li>a</li>\n<li>b</li>\n</ul>\n"),
            ("`code <b>`", "<p><code>code &lt;b&gt;</code></p>\n"),
            ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
            ("hi <img src=x onerror=alert(1)>", "<p>hi &lt;img src=x onerror=alert(1)&gt;</p>\n"),
            (
                "[docs](https://example.com/a?b=1&c=2)",
                "<p><a href=\"https://example.com/a?b=1&amp;c=2\" rel=\"nofollow noopener noreferrer\">docs</a></p>\n",
            ),
            ("[x](javascript:alert(1))", "<p><a href=\"#\" rel=\"nofollow noopener noreferrer\">x</a></p>\n"),
            ("[x](JavaScript:alert(1))", "<p><a href=\"#\" rel=\"nofollow noopener noreferrer\">x</a></p>\n"),
            ("[x](data:text/html,hi)", "<p><a href=\"#\" rel=\"nofollow noopener noreferrer\">x</a></p>\n"),
            ("[x](/integrations/1)", "<p><a href=\"/integrations/1\" rel=\"nofollow noopener noreferrer\">x</a></p>\n"),
            // Quotes cannot close the attribute: they are percent-encoded.
            ("[x](\"onmouseover=\"alert(1))", "<p><a href=\"%22onmouseover=%22alert(1)\" rel=\"nofollow noopener noreferrer\">x</a></p>\n"),
            (
                "![logo](https://img.example/logo.png)",
                "<p><a href=\"https://img.example/logo.png\" rel=\"nofollow noopener noreferrer\">logo</a></p>\n",
            ),
            (
                "<https://example.com>",
                "<p><a href=\"https://example.com\" rel=\"nofollow noopener noreferrer\">https://example.com</a></p>\n",
            ),
        ];
        for (source, want) in cases {
            let got = render(source);
            assert!(got.contains(want), "{source:?}\n got: {got:?}\nwant: {want:?}");
            assert!(!got.contains("<script") && !got.contains("<img") && !got.contains("javascript:"), "{source:?}: {got}");
        }
    }

    #[test]
    fn safe_urls() {
        for (url, safe) in [
            ("https://a.example", true),
            ("http://a.example", true),
            ("mailto:a@b.example", true),
            ("/relative/path", true),
            ("page?x=a:b", true),
            ("javascript:alert(1)", false),
            (" javascript:alert(1)", false),
            ("vbscript:x", false),
            ("data:text/html,x", false),
            ("file:///etc/passwd", false),
        ] {
            assert_eq!(safe_url(url), safe, "{url}");
        }
    }

    #[test]
    fn long_notes_are_cut_on_a_character_boundary() {
        let long = "é".repeat(MAX_SOURCE);
        assert!(render(&long).len() < MAX_SOURCE * 2);
    }
}

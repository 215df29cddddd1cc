//! Every rule of the feed reader (docs/sync.md), on the sample feed and on crafted inputs.
use std::ops::ControlFlow;

use xor_lever_shared::feed::{FeedError, Limits, parse, parse_slice};

const SAMPLE: &[u8] = include_bytes!("../../fixtures/lever-feed-sample.xml");

fn job(title: &str, extra: &str) -> String {
    format!(
        "<job><title>{title}</title><referencenumber>{}</referencenumber>{extra}</job>",
        title.to_lowercase().replace(' ', "-")
    )
}

fn unusable(bytes: &[u8]) -> (u64, String) {
    match parse_slice(bytes) {
        Err(FeedError::Unusable { position, reason }) => (position, reason),
        other => panic!("expected an unusable feed, got {:?}", other.map(|(p, r)| (p.len(), r.warnings))),
    }
}

#[test]
fn sample_feed_maps_to_xor_bodies() {
    let (postings, report) = parse_slice(SAMPLE).unwrap();
    assert_eq!(postings.len(), 4);
    assert_eq!(report.skipped, 0);
    let rust = &postings[0];
    assert_eq!(rust.external_id.as_str(), "5f1c2a7e-3b44-4c1e-9a0d-6f6b7d1e2a10");
    assert_eq!(rust.title, "Senior Backend Engineer (Rust)");
    assert_eq!(rust.company.as_deref(), Some("Acme Robotics"));
    assert_eq!(rust.location.city.as_deref(), Some("Berlin"));
    assert_eq!(rust.location.postal_code.as_deref(), Some("10115"));
    assert_eq!(rust.location.remote.as_deref(), Some("hybrid"));
    assert_eq!(rust.employment_type.as_deref(), Some("Full-time"));
    assert_eq!(rust.posted_at.as_deref(), Some("2026-11-20T09:00:00Z"));
    assert_eq!(rust.posting_url.as_deref(), Some("https://jobs.lever.co/acme/5f1c2a7e-3b44-4c1e-9a0d-6f6b7d1e2a10"));
    assert_eq!(
        rust.apply_url.as_deref(),
        Some("https://jobs.lever.co/acme/5f1c2a7e-3b44-4c1e-9a0d-6f6b7d1e2a10/apply")
    );
    // CDATA keeps HTML as written, entities inside CDATA are not decoded.
    assert!(rust.description_html.as_deref().unwrap().starts_with("<p>We build <b>fleet software</b>"));
    assert!(rust.description_html.as_deref().unwrap().contains("Rust &amp; Tokio"));
    // Unknown elements are kept.
    assert_eq!(rust.extra.get("requisitionid").map(String::as_str), Some("ENG-1042"));
    assert_eq!(rust.extra.get("salary").map(String::as_str), Some("EUR 85,000 - 105,000 per year"));
    assert_eq!(postings[2].location.city.as_deref(), Some("München"));
    let analyst = &postings[3];
    assert_eq!(analyst.title, "Data Analyst & Reporting Lead", "predefined entity decoded");
    assert_eq!(analyst.posted_at.as_deref(), Some("2026-11-23T10:15:00Z"), "RFC 2822 normalised");
    assert_eq!(analyst.description_html.as_deref(), Some("<p>SQL, dashboards and <i>curiosity</i>.</p>"));
    assert_eq!(analyst.location.remote.as_deref(), Some("remote"));
    assert_eq!(analyst.extra.get("team").map(String::as_str), Some("Business Intelligence"));
    assert_eq!(report.encoding, "UTF-8");
}

#[test]
fn jobs_anywhere_under_source_with_a_default_namespace() {
    let xml = format!(
        r#"<?xml version="1.0"?><source xmlns="http://example.com/feed"><publisher>Lever</publisher><jobs>{}</jobs>{}</source>"#,
        job("One", ""),
        job("Two", "")
    );
    let (p, _) = parse_slice(xml.as_bytes()).unwrap();
    assert_eq!(p.iter().map(|p| p.title.as_str()).collect::<Vec<_>>(), ["One", "Two"]);
}

#[test]
fn id_falls_back_to_url_uuid_and_unusable_jobs_are_skipped_with_warnings() {
    let xml = r#"<source>
      <job><title>From URL</title><url>https://jobs.lever.co/acme/0b7e5c44-2f1a-4d8b-b6c3-9e8f7a6b5c40</url></job>
      <job><title>No id</title><url>https://jobs.lever.co/acme/careers</url></job>
      <job><title>Dup</title><referencenumber>0b7e5c44-2f1a-4d8b-b6c3-9e8f7a6b5c40</referencenumber></job>
      <job><referencenumber>untitled</referencenumber></job>
      <job/>
    </source>"#;
    let (p, r) = parse_slice(xml.as_bytes()).unwrap();
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].external_id.as_str(), "0b7e5c44-2f1a-4d8b-b6c3-9e8f7a6b5c40");
    assert_eq!(p[0].title, "From URL", "a repeated id keeps the first");
    assert_eq!(r.skipped, 4);
    let w: Vec<String> = r.warnings.iter().map(|w| w.message.clone()).collect();
    assert!(w.iter().any(|m| m.contains("No id") && m.contains("no <referencenumber>")), "{w:?}");
    assert!(w.iter().any(|m| m.contains("appears again")), "{w:?}");
    assert!(w.iter().any(|m| m.contains("no <title>")), "{w:?}");
    assert!(r.warnings.iter().all(|w| w.position > 0));
}

#[test]
fn text_cdata_and_references_are_joined_comments_ignored_values_trimmed() {
    let xml = "<source><job><referencenumber> r1 </referencenumber>\
        <title>\n  Caf&#233; <!-- note --> <![CDATA[& <Bar>]]> &#x20AC;5 &lt;ok&gt; &quot;q&quot; &apos;a&apos;  </title></job></source>";
    let (p, _) = parse_slice(xml.as_bytes()).unwrap();
    assert_eq!(p[0].external_id.as_str(), "r1");
    assert_eq!(p[0].title, "Café  & <Bar> €5 <ok> \"q\" 'a'");
}

#[test]
fn doctype_entities_are_never_expanded() {
    let xml = r#"<?xml version="1.0"?>
<!DOCTYPE source [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY xxe SYSTEM "file:///etc/passwd">
]>
<source><job><referencenumber>r1</referencenumber><title>&lol2; &xxe;</title><description>&nbsp;x</description></job></source>"#;
    let (p, _) = parse_slice(xml.as_bytes()).unwrap();
    assert_eq!(p[0].title, "&lol2; &xxe;", "kept as written, not expanded");
    assert_eq!(p[0].description_html.as_deref(), Some("&nbsp;x"), "HTML entities survive for the HTML field");
}

#[test]
fn unknown_and_nested_elements_are_kept_in_extra() {
    let xml = format!(
        "<source>{}</source>",
        job("Eng", "<salary><min>1</min><max>2</max></salary><benefit>A</benefit><benefit>B</benefit>")
    );
    let (p, _) = parse_slice(xml.as_bytes()).unwrap();
    let extra = &p[0].extra;
    assert_eq!(extra.get("salary/min").map(String::as_str), Some("1"));
    assert_eq!(extra.get("salary/max").map(String::as_str), Some("2"));
    assert_eq!(extra.get("benefit").map(String::as_str), Some("A"));
    assert_eq!(extra.get("benefit[2]").map(String::as_str), Some("B"));
}

#[test]
fn unparseable_date_is_warned_and_kept() {
    let xml = format!("<source>{}</source>", job("Eng", "<date>next Tuesday</date>"));
    let (p, r) = parse_slice(xml.as_bytes()).unwrap();
    assert_eq!(p[0].posted_at, None);
    assert_eq!(p[0].extra.get("date").map(String::as_str), Some("next Tuesday"));
    assert_eq!(r.warnings.len(), 1);
}

fn utf16(s: &str, le: bool) -> Vec<u8> {
    let mut out = if le { vec![0xFF, 0xFE] } else { vec![0xFE, 0xFF] };
    for u in s.encode_utf16() {
        out.extend_from_slice(&if le { u.to_le_bytes() } else { u.to_be_bytes() });
    }
    out
}

#[test]
fn declared_encodings_are_honoured() {
    let body = "<source><job><referencenumber>r1</referencenumber><title>München €</title></job></source>";
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("utf-8", format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>{body}").into_bytes()),
        ("utf-8 bom", [&[0xEF, 0xBB, 0xBF][..], body.as_bytes()].concat()),
        ("utf-16le", utf16(&format!("<?xml version=\"1.0\" encoding=\"UTF-16\"?>{body}"), true)),
        ("utf-16be", utf16(&format!("<?xml version=\"1.0\" encoding=\"UTF-16\"?>{body}"), false)),
        (
            "windows-1252",
            [&b"<?xml version=\"1.0\" encoding=\"windows-1252\"?><source><job><referencenumber>r1</referencenumber><title>M\xfcnchen \x80</title></job></source>"[..]]
                .concat(),
        ),
    ];
    for (name, bytes) in cases {
        let (p, _) = parse_slice(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(p[0].title, "München €", "{name}");
    }
    let latin1 = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><source><job><referencenumber>r1</referencenumber><title>M\xfcnchen</title></job></source>";
    let (p, _) = parse_slice(latin1).unwrap();
    assert_eq!(p[0].title, "München");
    let (_, reason) = unusable(b"<?xml version=\"1.0\" encoding=\"klingon-8\"?><source/>");
    assert!(reason.contains("klingon-8"), "{reason}");
}

#[test]
fn unusable_documents_name_position_and_reason() {
    let (_, reason) = unusable(b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>");
    assert!(reason.contains("root element is <html>"), "{reason}");
    let (_, reason) = unusable(b"");
    assert!(reason.contains("empty"), "{reason}");
    let (_, reason) = unusable(b"upstream connect error");
    assert!(reason.contains("text outside the root"), "{reason}");
    let truncated = &SAMPLE[..SAMPLE.len() / 2];
    let (pos, reason) = unusable(truncated);
    assert!(reason.contains("truncated"), "{reason}");
    assert!(pos > 1000, "position {pos}");
    let (pos, reason) = unusable(b"<source><job><title>x</job></source>");
    assert!(reason.contains("malformed XML"), "{reason}");
    assert!(pos > 0);
    let (_, reason) = unusable(b"<source></source><source></source>");
    assert!(reason.contains("second root"), "{reason}");
    // An empty <source/> is a valid feed with no jobs.
    assert_eq!(parse_slice(b"<source/>").unwrap().0.len(), 0);
}

#[test]
fn hostile_inputs_are_bounded() {
    let deep = format!("<source>{}{}</source>", "<a>".repeat(100), "</a>".repeat(100));
    assert!(unusable(deep.as_bytes()).1.contains("nested deeper"));
    let limits = Limits { max_field_bytes: 1000, ..Limits::default() };
    let xml = format!(
        "<source>{}{}</source>",
        job("Huge", &format!("<description>{}</description>", "x".repeat(5000))),
        job("Fine", "")
    );
    let mut got = Vec::new();
    let r = parse(xml.as_bytes(), limits, |p| {
        got.push(p.title);
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(got, ["Fine"]);
    assert_eq!(r.skipped, 1);
    assert!(r.warnings[0].message.contains("larger than 1000 bytes"));
}

#[test]
fn stops_when_the_consumer_says_so() {
    let mut n = 0;
    let r = parse(SAMPLE, Limits::default(), |_| {
        n += 1;
        if n == 2 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
    })
    .unwrap();
    assert_eq!((n, r.jobs), (2, 2));
}

/// Lever's public postings API (`/v0/postings/SITE?mode=json`, the lever/postings-api README) is
/// read as a feed: the same postings as the XML, its `id` authoritative, every field kept.
#[test]
fn lever_s_postings_api_json_is_read_as_the_same_postings() {
    let json = r#"[
      {"id": "5f1c2a7e-3b44-4c1e-9a0d-6f6b7d1e2a10", "text": "Senior Backend Engineer (Rust)",
       "categories": {"commitment": "Full-time", "department": "R&D", "location": "Berlin", "team": "Platform",
                      "allLocations": ["Berlin", "Remote (EU)"]},
       "country": "DE", "workplaceType": "hybrid", "createdAt": 1795165200000,
       "description": "<p>Build things.</p>", "descriptionPlain": "Build things.",
       "lists": [{"text": "Requirements & more", "content": "<li>Rust</li>"}], "additional": "<p>Visa.</p>",
       "hostedUrl": "https://jobs.eu.lever.co/acme/5f1c2a7e-3b44-4c1e-9a0d-6f6b7d1e2a10",
       "applyUrl": "https://jobs.eu.lever.co/acme/5f1c2a7e-3b44-4c1e-9a0d-6f6b7d1e2a10/apply",
       "salaryRange": {"currency": "EUR", "min": 80000, "max": 95000}},
      {"text": "No id, no page"},
      {"id": "0b7e5c44-2f1a-4d8b-b6c3-9e8f7a6b5c40", "text": "Field Technician", "categories": {}}
    ]"#;
    let (p, r) = parse_slice(json.as_bytes()).unwrap();
    assert_eq!(p.len(), 2, "{r:?}");
    let rust = &p[0];
    assert_eq!(rust.external_id.as_str(), "5f1c2a7e-3b44-4c1e-9a0d-6f6b7d1e2a10");
    assert_eq!(rust.title, "Senior Backend Engineer (Rust)");
    assert_eq!((rust.location.city.as_deref(), rust.location.country.as_deref()), (Some("Berlin"), Some("DE")));
    assert_eq!(rust.location.remote.as_deref(), Some("hybrid"));
    assert_eq!((rust.employment_type.as_deref(), rust.category.as_deref()), (Some("Full-time"), Some("Platform")));
    assert_eq!(
        rust.apply_url.as_deref(),
        Some("https://jobs.eu.lever.co/acme/5f1c2a7e-3b44-4c1e-9a0d-6f6b7d1e2a10/apply")
    );
    assert_eq!(rust.posted_at.as_deref(), Some("2026-11-20T09:00:00Z"));
    assert_eq!(
        rust.description_html.as_deref(),
        Some("<p>Build things.</p><h3>Requirements &amp; more</h3><ul><li>Rust</li></ul><p>Visa.</p>")
    );
    assert_eq!(rust.extra["department"], "R&D");
    assert_eq!(rust.extra["allLocations"], "Berlin; Remote (EU)");
    assert!(rust.extra["salaryRange"].contains("80000"), "{:?}", rust.extra);
    assert_eq!(r.skipped, 1);
    assert!(r.warnings[0].message.contains("posting #2"), "{:?}", r.warnings);
    // A BOM and white space before the array are fine.
    let mut bom = b"\xEF\xBB\xBF\n  ".to_vec();
    bom.extend_from_slice(json.as_bytes());
    assert_eq!(parse_slice(&bom).unwrap().0.len(), 2);
}

/// A posting of the postings API is read whole, so it is bounded in bytes (twice the field
/// limit): a hostile element (a vast array under an unknown key) refuses the feed, named, and
/// never takes the memory it asks for.
#[test]
fn a_postings_api_element_is_bounded_in_bytes() {
    let mut json = br#"[{"id": "5f1c2a7e-3b44-4c1e-9a0d-6f6b7d1e2a10", "text": "A"}, {"id": "0b7e5c44-2f1a-4d8b-b6c3-9e8f7a6b5c40", "text": "B", "x": ["#.to_vec();
    for _ in 0..1_500_000 {
        json.extend_from_slice(b"0,");
    }
    json.extend_from_slice(b"0]}]");
    let (_, reason) = unusable(&json);
    assert!(reason.contains("posting #2 is larger than 2097152 bytes"), "{reason}");
    // Under the bound, the same shape is a posting like any other (the array kept in extra).
    let small = br#"[{"id": "0b7e5c44-2f1a-4d8b-b6c3-9e8f7a6b5c40", "text": "B", "x": [0, 0, 0]}]"#;
    assert_eq!(parse_slice(small).unwrap().0[0].extra["x"], "[0,0,0]");
}

/// What the postings API answers for an unknown site, or a truncated answer: unusable, named.
#[test]
fn a_postings_api_error_or_truncated_answer_is_unusable() {
    let (_, reason) = unusable(br#"{"ok": false, "error": "Document not found"}"#);
    assert!(reason.contains("Document not found"), "{reason}");
    let (_, reason) = unusable(br#"[{"id": "5f1c2a7e-3b44-4c1e-9a0d-6f6b7d1e2a10", "text": "A"}"#);
    assert!(reason.contains("postings API"), "{reason}");
    let (_, reason) = unusable(b"[] trailing");
    assert!(reason.contains("trailing"), "{reason}");
}

/// A customer's requisition code in `<referencenumber>` never becomes the posting id when the
/// job's `<url>` is Lever's job page; it stays with the job (in `extra`).
#[test]
fn a_requisition_code_is_not_the_posting_id() {
    let xml = r#"<source><job><title>A</title><referencenumber>REQ-2291</referencenumber>
      <url>https://jobs.lever.co/acme/0b7e5c44-2f1a-4d8b-b6c3-9e8f7a6b5c40</url></job></source>"#;
    let (p, _) = parse_slice(xml.as_bytes()).unwrap();
    assert_eq!(p[0].external_id.as_str(), "0b7e5c44-2f1a-4d8b-b6c3-9e8f7a6b5c40");
    assert_eq!(p[0].extra["referencenumber"], "REQ-2291");
}

//! Generated Lever-style feeds for tests and benchmarks, written as a stream (a 40 MB feed is
//! never built in memory by the generator either).
use std::io::{self, Write};

/// A stable posting id for job `i` of a generated feed.
pub fn posting_id(i: usize) -> String {
    format!("00000000-0000-4000-8000-{i:012}")
}

/// Writes a feed of `n` jobs; each description is about `desc_bytes` long. `title_suffix`
/// changes every title (to make an "updated" feed).
pub fn write_feed<W: Write>(
    mut w: W,
    ids: impl IntoIterator<Item = usize>,
    desc_bytes: usize,
    title_suffix: &str,
) -> io::Result<()> {
    let para = "<p>We build fleet software for warehouse robots: Rust, Tokio, AWS &amp; friends.</p>";
    let description: String = para.repeat(desc_bytes / para.len() + 1);
    writeln!(w, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<source>\n  <publisher>Lever</publisher>")?;
    for i in ids {
        let id = posting_id(i);
        write!(
            w,
            "  <job>\n    <title><![CDATA[Engineer {i}{title_suffix}]]></title>\n    <date><![CDATA[2026-11-20T09:00:00Z]]></date>\n    \
             <referencenumber><![CDATA[{id}]]></referencenumber>\n    <url><![CDATA[https://jobs.lever.co/acme/{id}]]></url>\n    \
             <company><![CDATA[Acme Robotics]]></company>\n    <city><![CDATA[Berlin]]></city>\n    <country><![CDATA[DE]]></country>\n    \
             <description><![CDATA[{description}]]></description>\n    <jobtype><![CDATA[Full-time]]></jobtype>\n    \
             <category><![CDATA[Engineering]]></category>\n    <salary><![CDATA[EUR 85,000]]></salary>\n  </job>\n"
        )?;
    }
    writeln!(w, "</source>")
}

/// A small generated feed in memory, for tests.
pub fn feed(ids: impl IntoIterator<Item = usize>, title_suffix: &str) -> Vec<u8> {
    let mut out = Vec::new();
    write_feed(&mut out, ids, 200, title_suffix).expect("writing to a Vec");
    out
}

/// The same postings as [`feed`], as Lever's public postings API answers them
/// (`GET /v0/postings/SITE?mode=json`, the lever/postings-api README's fields).
pub fn postings_api(ids: impl IntoIterator<Item = usize>, title_suffix: &str) -> Vec<u8> {
    let para = "<p>We build fleet software for warehouse robots: Rust, Tokio, AWS &amp; friends.</p>";
    let description: String = para.repeat(200 / para.len() + 1);
    let postings: Vec<serde_json::Value> = ids
        .into_iter()
        .map(|i| {
            let id = posting_id(i);
            serde_json::json!({
                "id": id,
                "text": format!("Engineer {i}{title_suffix}"),
                "categories": {"commitment": "Full-time", "department": "R&D", "location": "Berlin", "team": "Engineering", "allLocations": ["Berlin"]},
                "country": "DE",
                "createdAt": 1_795_165_200_000_i64,
                "description": description,
                "descriptionPlain": "We build fleet software for warehouse robots",
                "lists": [{"text": "Requirements", "content": "<li>Rust</li><li>AWS</li>"}],
                "additional": "<p>Visa sponsorship available.</p>",
                "hostedUrl": format!("https://jobs.lever.co/acme/{id}"),
                "applyUrl": format!("https://jobs.lever.co/acme/{id}/apply"),
                "workplaceType": "hybrid",
                "salaryRange": {"currency": "EUR", "interval": "per-year-salary", "min": 80000, "max": 95000},
            })
        })
        .collect();
    serde_json::to_vec(&postings).expect("JSON")
}

pub mod candidates;
pub mod connections;
#[cfg(feature = "sandbox")]
pub mod dev;
pub mod doctor;
pub mod feed;
pub mod filter;
pub mod keys;
pub mod lever_app;
#[cfg(feature = "sandbox")]
pub mod sandbox;
pub mod serve;
pub mod status;
pub mod sync;
pub mod webhooks;

/// A table on stdout (comfy-table: column widths from the content, no borders).
pub fn print_table<const N: usize>(headers: [&str; N], rows: impl IntoIterator<Item = [String; N]>) {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::NOTHING).set_header(headers);
    for r in rows {
        t.add_row(r);
    }
    println!("{t}");
}

/// `s` padded or cut to `w` characters: a fixed-width cell, for output that streams row by row (`feed inspect` on a 10,000-posting
/// feed: a table crate would hold every row first).
pub fn cell(s: &str, w: usize) -> String {
    let n = s.chars().count();
    if n > w {
        format!("{}…", s.chars().take(w - 1).collect::<String>())
    } else {
        format!("{s}{}", " ".repeat(w - n))
    }
}

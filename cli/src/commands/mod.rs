pub mod connections;
#[cfg(feature = "sandbox")]
pub mod dev;
pub mod feed;
pub mod lever_app;
#[cfg(feature = "sandbox")]
pub mod sandbox;
pub mod serve;
pub mod status;
pub mod sync;
pub mod webhooks;

/// Pads or cuts `s` to `w` characters (table cells).
pub fn cell(s: &str, w: usize) -> String {
    let n = s.chars().count();
    if n > w {
        format!("{}…", s.chars().take(w - 1).collect::<String>())
    } else {
        format!("{s}{}", " ".repeat(w - n))
    }
}

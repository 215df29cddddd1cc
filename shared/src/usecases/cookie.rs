//! The cookies of the browser flows (the OAuth nonce, the Lever section's session): `__Host-`
//! (Secure, no Domain, Path=/) on HTTPS; the same name without the prefix and without `Secure`
//! on plain-HTTP loopback (`serve`, `dev`), where browsers refuse `Secure` cookies. Always
//! HttpOnly and SameSite=Lax (the way back from Lever is a cross-site top-level navigation).

/// The cookie called `base` as this deployment names it.
pub fn name(base_url: &str, base: &str) -> String {
    if base_url.starts_with("https://") { format!("__Host-{base}") } else { base.to_owned() }
}

/// `Set-Cookie` for cookie `base` (`Max-Age` 0 with an empty value clears it).
pub fn set(base_url: &str, base: &str, value: &str, max_age_s: i64) -> String {
    let secure = if base_url.starts_with("https://") { "; Secure" } else { "" };
    format!("{}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_s}{secure}", name(base_url, base))
}

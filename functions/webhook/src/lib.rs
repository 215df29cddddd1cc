//! The webhook Lambda: the shared router behind API Gateway's HTTP API.
use axum::Router;
use xor_lever_shared::http::{RequestDeadline, router};
use xor_lever_shared::usecases::context::LeverContext;

/// The router with the invocation's deadline passed down (a claim's lease ends with it).
/// `public_url`: the stack's `PublicUrl` (`Settings::public_url`).
pub fn app(deps: LeverContext, public_url: Option<String>) -> Router {
    router(deps, public_url).layer(axum::middleware::map_request(|mut req: axum::extract::Request| async move {
        if let Some(ctx) = req.extensions().get::<lambda_http::Context>() {
            let deadline = ctx.deadline as i64;
            req.extensions_mut().insert(RequestDeadline(deadline));
        }
        req
    }))
}

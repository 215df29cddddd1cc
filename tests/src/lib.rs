//! Stand-ins for the outside world, served over real HTTP on loopback: the XOR API sandbox
//! (contract §1), a Lever-style feed server, and helpers the workspace's tests share.
pub mod feed_server;
pub mod feeds;
pub mod harness;
pub mod lever;
pub mod moto;
pub mod xor;

pub use feed_server::FeedServer;
pub use lever::LeverSandbox;
pub use xor::XorSandbox;

/// Binds a loopback listener (port 0 = any free port).
pub async fn bind(addr: &str) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await
}

//! A function's real binary, started as Lambda starts it (under the Lambda emulator, on moto).

/// Starts a function's real binary the way Lambda does: its runtime polls `emulator`, and it
/// talks to moto (DynamoDB, Secrets Manager) for its state. Killed when dropped.
pub fn start_function(
    binary: &str,
    emulator: &crate::lambda_emulator::RunningEmulator,
    table: &str,
    secret_prefix: &str,
) -> KillOnDrop {
    start_function_as(binary, emulator, table, secret_prefix, None)
}

/// [`start_function`], on the IAM-enforcing moto with `principal`'s keys when given.
pub fn start_function_as(
    binary: &str,
    emulator: &crate::lambda_emulator::RunningEmulator,
    table: &str,
    secret_prefix: &str,
    principal: Option<crate::moto::Principal>,
) -> KillOnDrop {
    start_function_with(binary, emulator, table, secret_prefix, principal, &[])
}

/// The same, with more environment variables (the sync queue's URL).
pub fn start_function_with(
    binary: &str,
    emulator: &crate::lambda_emulator::RunningEmulator,
    table: &str,
    secret_prefix: &str,
    principal: Option<crate::moto::Principal>,
    env: &[(&str, &str)],
) -> KillOnDrop {
    let (endpoint, (key, secret)) = match principal {
        Some(p) => (crate::moto::iam_endpoint(), p.keys()),
        None => (crate::moto::endpoint(), ("test".to_owned(), "test".to_owned())),
    };
    let child = std::process::Command::new(binary)
        .env("AWS_LAMBDA_RUNTIME_API", &emulator.addr)
        .env("AWS_LAMBDA_FUNCTION_NAME", "local")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/local")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("STACK_NAME", "xor-lever-test")
        .env("TABLE_NAME", table)
        .env("SECRET_PREFIX", secret_prefix)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", key)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("start the function binary");
    KillOnDrop(child)
}

pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

use std::process::ExitCode;

use clap::Subcommand;
use xor_lever_shared::adapters::lever::AppCredentials;
use xor_lever_shared::domain::ports::LEVER_APP;
use xor_lever_shared::domain::{LeverEnv, SecretString};

use crate::store::{Ctx, Result};

#[derive(Subcommand)]
pub enum LeverAppCommand {
    /// Store the Lever OAuth app's credentials (one app per deployment).
    Set {
        #[arg(long)]
        client_id: String,
        #[arg(long, env = "LEVER_CLIENT_SECRET", hide_env_values = true)]
        client_secret: String,
        /// The Lever environment that issued these credentials: one app serves the accounts
        /// of one environment (EU accounts authorize the production app).
        #[arg(long, value_enum, default_value = "production")]
        lever_env: crate::commands::connections::EnvArg,
    },
}

pub async fn run(ctx: &Ctx, cmd: LeverAppCommand) -> Result<ExitCode> {
    let LeverAppCommand::Set { client_id, client_secret, lever_env } = cmd;
    let env = LeverEnv::from(lever_env);
    if env != env.app_environment() {
        return Err(format!(
            "--lever-env {}: Lever apps are production's or the sandbox's; an EU account authorizes the production app (--lever-env production)",
            env.as_str()
        )
        .into());
    }
    let deps = ctx.deps().await?;
    let creds = serde_json::to_string(&AppCredentials { client_id, client_secret, env })?;
    deps.secrets.put_app_secret(LEVER_APP, &SecretString::new(creds)).await?;
    println!("Lever app credentials stored (Lever {}: connections of that environment only)", env.as_str());
    // A first deploy's setup: the signing key is made here too (never derived from the client
    // secret just stored, which Lever also holds).
    if xor_lever_shared::usecases::signed::init_keys(deps.secrets.as_ref(), xor_lever_shared::usecases::now_ms())
        .await?
    {
        println!("signing key created (rotate it with `xor-lever keys rotate`)");
    }
    Ok(ExitCode::SUCCESS)
}

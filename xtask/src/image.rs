//! `cargo xtask image`: the agent's container image, built offline.
//!
//! No registry is reachable, so there is no base image to pull: the release
//! agent, statically linked (`crate::agent::build`), is stripped of debug
//! info and put alone into a `FROM scratch` image by `podman build
//! --pull=never`. The default rules are embedded in the binary; the image
//! runs `vigil run` by default.

use std::path::Path;

use anyhow::{Context, Result};

use crate::sh::{self, cmd};

/// The image name and tags the manifests and tests refer to.
pub const IMAGE: &str = "localhost/vigil";

/// The Containerfile: one static binary, nothing else.
const CONTAINERFILE: &str = r#"# Written by `cargo xtask image` (vigil).
FROM scratch
COPY vigil /usr/bin/vigil
LABEL org.opencontainers.image.title="vigil" \
      org.opencontainers.image.description="Runtime syscall and behaviour monitor for Linux container hosts" \
      org.opencontainers.image.licenses="Apache-2.0"
ENTRYPOINT ["/usr/bin/vigil"]
CMD ["run"]
"#;

#[derive(clap::Args)]
pub struct ImageArgs {
    /// Tag besides `latest` (default: the workspace version).
    #[arg(long)]
    pub tag: Option<String>,
}

/// Builds the static agent and the image; prints the image's size.
pub fn run(root: &Path, args: &ImageArgs) -> Result<()> {
    let bin = crate::agent::build(root)?;
    let ctx = crate::agent::target_dir(root).join("image");
    std::fs::create_dir_all(&ctx).with_context(|| format!("creating {}", ctx.display()))?;
    let staged = ctx.join("vigil");
    // Keep the symbol table (readable backtraces), drop DWARF (most of the size).
    sh::run(&mut cmd(
        "strip",
        ["--strip-debug", "-o", path_str(&staged)?, path_str(&bin)?],
    ))?;
    std::fs::write(ctx.join("Containerfile"), CONTAINERFILE)
        .context("writing the Containerfile")?;
    let version = args
        .tag
        .clone()
        .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_string());
    let tagged = format!("{IMAGE}:{version}");
    let latest = format!("{IMAGE}:latest");
    let before = image_id(&latest);
    sh::run(&mut cmd(
        "podman",
        [
            "build",
            "--pull=never",
            "--quiet",
            "-t",
            &tagged,
            "-t",
            &latest,
            "-f",
            path_str(&ctx.join("Containerfile"))?,
            path_str(&ctx)?,
        ],
    ))?;
    // The build this one replaces has no tag left: remove it, or every
    // rebuild leaves one behind (podman refuses while a container uses it).
    if let Some(old) = before.filter(|old| image_id(&latest).as_ref() != Some(old)) {
        let tags = sh::output(&mut cmd(
            "podman",
            ["image", "inspect", "--format", "{{len .RepoTags}}", &old],
        ));
        if tags.is_ok_and(|n| n.trim() == "0") {
            sh::succeeds(&mut cmd("podman", ["rmi", &old]));
        }
    }
    let size = sh::output(&mut cmd(
        "podman",
        ["image", "inspect", "--format", "{{.Size}}", &tagged],
    ))?;
    let bytes: u64 = size.trim().parse().unwrap_or(0);
    println!(
        "built image {tagged} (also {latest}): {:.1} MiB ({bytes} bytes), binary {}",
        bytes as f64 / (1 << 20) as f64,
        staged.display()
    );
    Ok(())
}

/// The id of the image `name` names, if there is one.
fn image_id(name: &str) -> Option<String> {
    let id = sh::output(&mut cmd(
        "podman",
        ["image", "inspect", "--format", "{{.Id}}", name],
    ))
    .ok()?;
    Some(id.trim().to_owned()).filter(|id| !id.is_empty())
}

fn path_str(p: &Path) -> Result<&str> {
    p.to_str()
        .with_context(|| format!("{} is not UTF-8", p.display()))
}

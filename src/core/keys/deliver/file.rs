//! File delivery: a key written into a 0600 file under the key directory, whose name and folders are
//! checked first.

use std::path::Path;

use tokio::io::AsyncWriteExt;

use super::Delivered;
use crate::core::domain::error::{Error, Result};

/// A file name with no directory part, so the file stays inside the key directory.
pub(super) fn plain_file_name(name: &str) -> Result<&str> {
    let valid = !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if valid {
        Ok(name)
    } else {
        Err(Error::invalid(
            "file_name",
            format!(
                "must be a plain file name inside the key directory (1-128 of A-Z a-z 0-9 . _ -, not \
                 starting with `.`, no `/`); `{name}` is not"
            ),
        ))
    }
}

/// Refuse a key directory others could tamper with: a symlink (whoever controls its target controls where
/// keys go), one that others may write to, or one owned by another user.
pub(super) fn check_key_dir(dir: &Path) -> Result<()> {
    let refuse = |why: String| {
        Err(Error::invalid(
            "deliver",
            format!(
                "the key directory {} {why}; use a directory owned by the server's user with mode 0700",
                dir.display()
            ),
        ))
    };
    let meta = match std::fs::symlink_metadata(dir) {
        Ok(meta) => meta,
        Err(error) => return refuse(format!("cannot be read ({error})")),
    };
    if meta.file_type().is_symlink() {
        return refuse("is a symlink".to_owned());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if meta.mode() & 0o002 != 0 {
            return refuse("is writable by every user".to_owned());
        }
        let me = std::fs::metadata("/proc/self").map(|m| m.uid());
        if me.is_ok_and(|uid| uid != meta.uid()) {
            return refuse(format!(
                "is owned by uid {}, not by the server's user",
                meta.uid()
            ));
        }
    }
    Ok(())
}

/// Write `contents` to `path` with mode 0600: a fresh temporary file renamed over the target, so a
/// symlink planted at `path` is replaced, never followed.
pub(super) async fn write_private_file(path: &Path, contents: &str) -> Result<Delivered> {
    let io_error = |action: &str, error: std::io::Error| {
        Error::invalid(
            "deliver",
            format!(
                "could not {action} `{}`: {error}; check that the key directory exists and is \
                 writable by the server",
                path.display()
            ),
        )
    };
    if let Some(parent) = path.parent().filter(|p| !p.exists()) {
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(parent)
            .map_err(|e| io_error("create the directory of", e))?;
    }
    if let Some(parent) = path.parent() {
        check_key_dir(parent)?;
    }
    let temp = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options
        .open(&temp)
        .await
        .map_err(|e| io_error("create", e))?;
    let written = async {
        file.write_all(contents.as_bytes()).await?;
        file.sync_all().await?;
        tokio::fs::rename(&temp, path).await
    }
    .await;
    if let Err(error) = written {
        let _ = tokio::fs::remove_file(&temp).await;
        return Err(io_error("write", error));
    }
    tracing::info!(path = %path.display(), "wrote Bedrock API key file");
    Ok(Delivered::File {
        path: path.display().to_string(),
    })
}

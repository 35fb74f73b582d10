//! The file operations the store relies on: owner-only permissions, bounded reads, and writes
//! that are atomic (a crash leaves the old file or the new one, never a mixture).
//!
//! A write goes to a temporary file `.<name>.<random>.tmp` in the same directory (created with
//! `create_new`, mode 0600), is synced, then renamed over the target (or hard-linked, when the
//! target must not be replaced), and the directory is synced so the rename itself is durable.
//! A crash can leave such a temporary file behind; it holds only sealed data and may be deleted.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::StoreError;

/// Mode of every file the store writes.
pub const FILE_MODE: u32 = 0o600;
/// Mode of a data directory the store creates.
pub const DIR_MODE: u32 = 0o700;
/// Permission bits that let other users read or change a file.
const OTHERS: u32 = 0o077;
/// The same, less the group's read bit (secrets handed to otrbnc, see [`read_secret`]).
const SHARED: u32 = 0o037;

/// Creates `dir` (and missing parents) with mode 0700 unless it exists.
pub fn ensure_dir(dir: &Path) -> Result<(), StoreError> {
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => return Ok(()),
        Ok(_) => {
            return Err(StoreError::io(
                dir,
                io::Error::new(io::ErrorKind::NotADirectory, "not a directory"),
            ));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(StoreError::io(dir, e)),
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .map_err(|e| StoreError::io(dir, e))?;
    // The umask may have taken bits away from the mode asked for; set it exactly.
    fs::set_permissions(dir, fs::Permissions::from_mode(DIR_MODE))
        .map_err(|e| StoreError::io(dir, e))
}

/// Whether anything (even a dangling symlink) is at `path`.
pub fn exists(path: &Path) -> Result<bool, StoreError> {
    match fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(StoreError::io(path, e)),
    }
}

/// Reads a secret file of at most `max` bytes, refusing one other users can access.
/// Reading never changes the file.
pub fn read_private(path: &Path, max: u64) -> Result<Zeroizing<Vec<u8>>, StoreError> {
    read_limited(path, max, OTHERS)
}

/// Reads a secret the user hands otrbnc (`data.passphrase_file`, `listen.password_file`) of
/// at most `max` bytes: like [`read_private`], except that the file's group may read it
/// (mode 0640 or 0440), which is how a container's user is given a secret file from the
/// host (compose's `group_add`). Group write and any access by others are refused.
pub fn read_secret(path: &Path, max: u64) -> Result<Zeroizing<Vec<u8>>, StoreError> {
    read_limited(path, max, SHARED)
}

fn read_limited(path: &Path, max: u64, refused: u32) -> Result<Zeroizing<Vec<u8>>, StoreError> {
    let file = File::open(path).map_err(|e| StoreError::io(path, e))?;
    let meta = file.metadata().map_err(|e| StoreError::io(path, e))?;
    if !meta.is_file() {
        return Err(StoreError::corrupt(path, "it is not a regular file"));
    }
    let mode = meta.permissions().mode();
    if mode & refused != 0 {
        return Err(StoreError::Permissions {
            path: path.to_path_buf(),
            mode,
        });
    }
    if meta.len() > max {
        return Err(too_long(path, max));
    }
    // Sized up front so the buffer does not reallocate and leave unwiped copies behind.
    let cap = usize::try_from(meta.len()).unwrap_or(0).saturating_add(1);
    let mut buf = Zeroizing::new(Vec::with_capacity(cap));
    file.take(max.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(|e| StoreError::io(path, e))?;
    if u64::try_from(buf.len()).unwrap_or(u64::MAX) > max {
        return Err(too_long(path, max));
    }
    Ok(buf)
}

fn too_long(path: &Path, max: u64) -> StoreError {
    StoreError::corrupt(
        path,
        format!("it is larger than the {max} bytes such a file may have"),
    )
}

/// Replaces `path` with `bytes` atomically (creating the directory if needed); the result has
/// mode 0600.
pub fn replace_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let (dir, tmp) = temp_beside(path)?;
    ensure_dir(&dir)?;
    write_temp(&tmp, bytes)?;
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(StoreError::io(path, e));
    }
    sync_dir(&dir)
}

/// Writes a new file atomically, mode 0600; if `path` already exists it is left alone and
/// the result is [`StoreError::Exists`].
pub fn create_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let (dir, tmp) = temp_beside(path)?;
    ensure_dir(&dir)?;
    write_temp(&tmp, bytes)?;
    // A hard link never replaces an existing file, so two starts racing cannot both win.
    let linked = fs::hard_link(&tmp, path);
    let result = match linked {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(StoreError::Exists {
            path: path.to_path_buf(),
        }),
        // File systems without hard links: check, then rename (a narrow race remains).
        Err(_) => match exists(path) {
            Ok(true) => Err(StoreError::Exists {
                path: path.to_path_buf(),
            }),
            Ok(false) => fs::rename(&tmp, path).map_err(|e| StoreError::io(path, e)),
            Err(e) => Err(e),
        },
    };
    let _ = fs::remove_file(&tmp);
    result?;
    sync_dir(&dir)
}

/// The directory of `path` and a fresh temporary name in it.
fn temp_beside(path: &Path) -> Result<(PathBuf, PathBuf), StoreError> {
    let name = path.file_name().ok_or_else(|| {
        StoreError::io(
            path,
            io::Error::new(io::ErrorKind::InvalidInput, "not a file name"),
        )
    })?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut random = [0u8; 8];
    rand::fill(&mut random);
    let mut tmp = OsString::from(".");
    tmp.push(name);
    tmp.push(format!(".{}.tmp", hex::encode(random)));
    let tmp = dir.join(tmp);
    Ok((dir, tmp))
}

/// Creates `tmp` (never an existing file), writes `bytes` and syncs; removed again on failure.
fn write_temp(tmp: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(tmp)
        .map_err(|e| StoreError::io(tmp, e))?;
    let written = file
        .write_all(bytes)
        // The umask may have taken bits away from the mode asked for; set it exactly.
        .and_then(|()| file.set_permissions(fs::Permissions::from_mode(FILE_MODE)))
        .and_then(|()| file.sync_all());
    if let Err(e) = written {
        drop(file);
        let _ = fs::remove_file(tmp);
        return Err(StoreError::io(tmp, e));
    }
    Ok(())
}

/// Makes a rename or link in `dir` durable.
fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io(dir, e))
}

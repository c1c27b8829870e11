//! `manifest.json`: the SHA-256 of every evidence file, written last, so a
//! retailer can tell whether a bundle was edited after the run
//! (`crossdock certify verify DIR`).

use std::path::Path;

use serde::{Deserialize, Serialize};

/// Format tag of `manifest.json`.
pub const MANIFEST_FORMAT: &str = "crossdock.manifest.v1";

/// The evidence files a bundle must list, besides the manifest itself.
pub const EVIDENCE_FILES: [&str; 4] = ["certificate.json", "junit.xml", "report.html", "exchanges.jsonl"];

/// One evidence file and its hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// Relative to the manifest.
    pub path: String,
    pub bytes: u64,
    /// SHA-256 of the file's bytes, hex.
    pub sha256: String,
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`MANIFEST_FORMAT`].
    pub format: String,
    pub files: Vec<ManifestEntry>,
}

/// Why a bundle did not verify.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// A file differs from its hash, is missing, or is not listed.
    #[error("tampered: {0}")]
    Tampered(String),
    /// The manifest cannot be read or parsed.
    #[error("unreadable: {0}")]
    Unreadable(String),
}

impl VerifyError {
    /// 1 tampered, 2 unreadable.
    pub fn exit_code(&self) -> u8 {
        match self {
            VerifyError::Tampered(_) => crate::exit::CHECKS_FAILED,
            VerifyError::Unreadable(_) => crate::exit::BAD_INPUT,
        }
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(bytes))
}

/// Hashes every evidence file in `dir` and writes `manifest.json`.
pub fn write(dir: &Path) -> std::io::Result<Manifest> {
    let mut files = Vec::new();
    for name in EVIDENCE_FILES {
        let bytes = std::fs::read(dir.join(name))
            .map_err(|e| std::io::Error::new(e.kind(), format!("read {}: {e}", dir.join(name).display())))?;
        files.push(ManifestEntry {
            path: name.to_owned(),
            bytes: bytes.len() as u64,
            sha256: sha256_hex(&bytes),
        });
    }
    let manifest = Manifest {
        format: MANIFEST_FORMAT.into(),
        files,
    };
    let json = serde_json::to_string_pretty(&manifest).expect("a manifest serializes");
    std::fs::write(dir.join("manifest.json"), json + "\n")?;
    Ok(manifest)
}

/// Checks the bundle in `dir` against its `manifest.json`: every evidence
/// file listed, present, and of the hash listed.
pub fn verify(dir: &Path) -> Result<Manifest, VerifyError> {
    let path = dir.join("manifest.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| VerifyError::Unreadable(format!("{}: {e}", path.display())))?;
    let manifest: Manifest = serde_json::from_str(&text)
        .map_err(|e| VerifyError::Unreadable(format!("{}: {e}", path.display())))?;
    if manifest.format != MANIFEST_FORMAT {
        return Err(VerifyError::Unreadable(format!(
            "{}: format {:?}, expected {MANIFEST_FORMAT}",
            path.display(),
            manifest.format
        )));
    }
    for name in EVIDENCE_FILES {
        if !manifest.files.iter().any(|f| f.path == name) {
            return Err(VerifyError::Tampered(format!(
                "{name} is not listed in manifest.json"
            )));
        }
    }
    for entry in &manifest.files {
        if entry.path.contains("..") || Path::new(&entry.path).is_absolute() {
            return Err(VerifyError::Tampered(format!(
                "manifest.json lists {:?}, outside the bundle",
                entry.path
            )));
        }
        let bytes = std::fs::read(dir.join(&entry.path))
            .map_err(|e| VerifyError::Tampered(format!("{}: {e}", entry.path)))?;
        let actual = sha256_hex(&bytes);
        if actual != entry.sha256 {
            return Err(VerifyError::Tampered(format!(
                "{} has sha256 {actual}, the manifest says {}",
                entry.path, entry.sha256
            )));
        }
    }
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edited_missing_or_unlisted_file_is_tampering() {
        let dir = tempfile::tempdir().unwrap();
        for name in EVIDENCE_FILES {
            std::fs::write(dir.path().join(name), format!("{name} text")).unwrap();
        }
        assert!(matches!(verify(dir.path()), Err(VerifyError::Unreadable(_))));
        write(dir.path()).unwrap();
        assert_eq!(verify(dir.path()).unwrap().files.len(), EVIDENCE_FILES.len());

        std::fs::write(dir.path().join("junit.xml"), "edited").unwrap();
        let e = verify(dir.path()).unwrap_err();
        assert!(
            matches!(&e, VerifyError::Tampered(m) if m.starts_with("junit.xml")),
            "{e}"
        );
        assert_eq!(e.exit_code(), 1);

        write(dir.path()).unwrap();
        std::fs::remove_file(dir.path().join("report.html")).unwrap();
        assert!(
            verify(dir.path())
                .unwrap_err()
                .to_string()
                .contains("report.html")
        );

        std::fs::write(dir.path().join("manifest.json"), "{not json").unwrap();
        assert_eq!(verify(dir.path()).unwrap_err().exit_code(), 2);
    }
}

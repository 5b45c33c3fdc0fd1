//! Links the binary with packed relative relocations (`DT_RELR`) when the machine that builds it can run
//! such a binary. A position-independent Rust binary carries one 24-byte relocation per pointer in its
//! read-only data (about 56,000 here, 1.3 MB the loader reads at every start); `DT_RELR` packs them into a
//! few kilobytes, so the server starts with about 1.3 MiB less resident memory, and keeps its ASLR.
//!
//! It needs glibc 2.36 or later where the binary runs, and a linker that knows the flag (binutils 2.38,
//! lld 15). So it is used only when building for this machine (`cargo install`, `make bench`) and a probe
//! binary linked with it runs here. The portable release archives are built on an older glibc with it off:
//! `BEDROCK_PROVISIONER_RELR=off` turns it off; `on` insists on it without the probe.

use std::{env, path::PathBuf, process::Command};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=BEDROCK_PROVISIONER_RELR");
    let wanted = env::var("BEDROCK_PROVISIONER_RELR").unwrap_or_default();
    let linux_gnu = env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux")
        && env::var("CARGO_CFG_TARGET_ENV").is_ok_and(|e| e == "gnu");
    let native = env::var("HOST") == env::var("TARGET");
    let relr = match wanted.as_str() {
        "off" | "0" | "false" => false,
        "on" | "1" | "true" => true,
        _ => linux_gnu && native && probe_runs(),
    };
    if relr {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// Whether a C program linked with packed relative relocations links and runs on this machine.
fn probe_runs() -> bool {
    let Some(out) = env::var_os("OUT_DIR").map(PathBuf::from) else {
        return false;
    };
    let source = out.join("relr_probe.c");
    let binary = out.join("relr_probe");
    if std::fs::write(&source, "int main(void) { return 0; }\n").is_err() {
        return false;
    }
    let compiler = env::var("CC").unwrap_or_else(|_| "cc".to_owned());
    let linked = Command::new(compiler)
        .arg("-pie")
        .arg("-fPIE")
        .arg("-Wl,-z,pack-relative-relocs")
        .arg("-o")
        .arg(&binary)
        .arg(&source)
        .output()
        .is_ok_and(|output| output.status.success());
    linked && Command::new(&binary).status().is_ok_and(|s| s.success())
}

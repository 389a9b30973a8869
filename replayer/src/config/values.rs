//! The value syntaxes flags share, parsed and printed: GoReplay's `[host]:port` inputs,
//! `URL[|limit]` targets, Go durations (`1m30s`), sizes (`10mb`), booleans, file modes and
//! listen addresses. Every parser returns a one-line reason the caller prefixes with the flag.

use super::*;
use crate::capture::{is_stream, Input};
use crate::stages::limit::Limit;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;
/// `-input-raw [host]:port`: host may be an IP address, `localhost`, an interface name or a
/// capture file; empty means every interface. Returns the input and its display name.
pub fn parse_input_raw(text: &str, engine: Option<Engine>) -> Result<(Input, String), String> {
    let (host, port) = text
        .rsplit_once(':')
        .ok_or_else(|| format!("'{text}' is not [host]:port"))?;
    let port: u16 = port
        .trim()
        .parse()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("'{port}' in '{text}' is not a port (1-65535)"))?;
    let lower = host.to_ascii_lowercase();
    let looks_like_file = host == "-"
        || lower.ends_with(".pcap")
        || lower.ends_with(".pcapng")
        || lower.ends_with(".cap")
        || host.contains('/');
    if engine == Some(Engine::PcapFile) || looks_like_file {
        // `-` is standard input, as for `tcpdump -r -`.
        let path = PathBuf::from(if host == "-" { "/dev/stdin" } else { host });
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() || is_stream(&meta) => {}
            Ok(_) => {
                return Err(format!(
                    "{host} is neither a file nor a stream (a pipe or FIFO)"
                ))
            }
            Err(e) => return Err(format!("cannot read {host}: {e}")),
        }
        return Ok((Input::File { path, port }, host.to_string()));
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let ip = if host == "localhost" {
        Some(IpAddr::V4(Ipv4Addr::LOCALHOST))
    } else {
        bare.parse::<IpAddr>().ok()
    };
    let devices = pcap::Device::list().unwrap_or_default();
    let (interface, ip) = match (host, ip) {
        ("", _) => (None, None),
        (_, Some(ip)) => {
            // Capture on the interface that owns the address when there is one (as GoReplay);
            // otherwise on every interface, filtered by address.
            let owner = devices
                .iter()
                .find(|d| d.addresses.iter().any(|a| a.addr == ip))
                .map(|d| d.name.clone());
            (owner, Some(ip))
        }
        (name, None) => {
            if !devices.is_empty() && !devices.iter().any(|d| d.name == name) {
                let known: Vec<&str> = devices.iter().map(|d| d.name.as_str()).collect();
                return Err(format!(
                    "'{name}' is neither an IP address, an interface ({}) nor a .pcap file",
                    known.join(", ")
                ));
            }
            (Some(name.to_string()), None)
        }
    };
    let source = format!("{}:{port}", interface.as_deref().unwrap_or("any"));
    Ok((
        Input::Live {
            interface,
            host: ip,
            port,
        },
        source,
    ))
}

/// `-output-http URL[|N or |N%]`: the limit split off here, the URL checked by the one
/// target parser, [`crate::outputs::replay::parse_target`].
pub fn parse_http_target(text: &str) -> Result<HttpTarget, String> {
    let (address, limit) = Limit::split(text.trim())?;
    let url = crate::outputs::replay::parse_target(address).map_err(|e| match e {
        crate::outputs::replay::ReplayError::BadTarget(reason) => reason,
        other => other.to_string(),
    })?;
    Ok(HttpTarget { url, limit })
}

/// `-output-file PATH[|N or |N%]`.
pub fn parse_file_target(text: &str) -> Result<FileTarget, String> {
    let (path, limit) = Limit::split(text)?;
    if path.trim().is_empty() {
        return Err("empty path".into());
    }
    Ok(FileTarget {
        path: PathBuf::from(path.trim()),
        limit,
    })
}

/// Go's `strconv.ParseBool`, which `-flag=value` uses.
pub fn parse_go_bool(text: &str) -> Result<bool, String> {
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!("'{text}' is not a boolean (true or false)")),
    }
}

/// Go's `time.ParseDuration`, without the sign: `300ms`, `1.5h`, `2h45m`, `0`.
pub fn parse_go_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("'{text}' is not a duration like 5s, 500ms or 1m30s");
    let mut rest = text.trim();
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total_ns: u128 = 0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let (number, after) = rest.split_at(number_len);
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let unit_ns: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err(bad()),
        };
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
            return Err(bad());
        }
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| bad())?
        };
        let mut part = whole.checked_mul(unit_ns).ok_or_else(bad)?;
        let mut scale = unit_ns;
        for digit in fraction.bytes().take(18) {
            scale /= 10;
            part += u128::from(digit - b'0') * scale;
        }
        total_ns = total_ns.checked_add(part).ok_or_else(bad)?;
        rest = after;
    }
    u64::try_from(total_ns)
        .map(Duration::from_nanos)
        .map_err(|_| bad())
}

/// The shortest Go duration that reads back the same: `5s`, `500ms`, `1m30s`, `2h`.
pub fn format_go_duration(duration: Duration) -> String {
    let ns = duration.as_nanos();
    if ns == 0 {
        return "0s".into();
    }
    if !ns.is_multiple_of(1_000_000_000) {
        return match ns {
            n if n.is_multiple_of(1_000_000) => format!("{}ms", n / 1_000_000),
            n if n.is_multiple_of(1_000) => format!("{}us", n / 1_000),
            n => format!("{n}ns"),
        };
    }
    let secs = ns / 1_000_000_000;
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 {
        out.push_str(&format!("{s}s"));
    }
    out
}

/// GoReplay's sizes: a number (decimal, or `0x` hex; `_` allowed) with an optional unit
/// `kb`, `mb`, `gb` or `tb` in any case, in powers of 1024.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let bad = || format!("'{text}' is not a size like 65536, 64kb or 10mb");
    let lower = text.trim().to_ascii_lowercase();
    let (number, multiplier) = [
        ("kb", 1u64 << 10),
        ("mb", 1 << 20),
        ("gb", 1 << 30),
        ("tb", 1 << 40),
    ]
    .iter()
    .find_map(|(unit, m)| lower.strip_suffix(unit).map(|n| (n.to_string(), *m)))
    .unwrap_or((lower.clone(), 1));
    let digits = number.replace('_', "");
    let value = match digits.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => digits.parse::<u64>(),
    }
    .map_err(|_| bad())?;
    value.checked_mul(multiplier).ok_or_else(bad)
}

/// A size the way [`parse_size`] reads it back: `16mb`, `64kb`, `65535`.
pub fn format_size(bytes: u64) -> String {
    match bytes {
        0 => "0".into(),
        b if b.is_multiple_of(1 << 30) => format!("{}gb", b >> 30),
        b if b.is_multiple_of(1 << 20) => format!("{}mb", b >> 20),
        b if b.is_multiple_of(1 << 10) => format!("{}kb", b >> 10),
        b => b.to_string(),
    }
}

/// An octal permission mode: `0660`, `660` or `0o660`.
pub fn parse_mode(text: &str) -> Result<u32, String> {
    let digits = text.trim().trim_start_matches("0o");
    u32::from_str_radix(digits, 8)
        .ok()
        .filter(|m| *m <= 0o7777 && !digits.is_empty())
        .ok_or_else(|| format!("'{text}' is not an octal mode like 0660"))
}

/// `host:port`, `[v6]:port`, or `:port` (every address, as Go's listeners take it).
pub fn parse_listen_addr(text: &str) -> Result<SocketAddr, String> {
    let text = text.trim();
    let full = match text.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => text.replace("localhost:", "127.0.0.1:"),
    };
    full.parse()
        .map_err(|_| format!("'{text}' is not an address like 127.0.0.1:9464"))
}

/// `-input-raw-speed`: `N%` (GoReplay's syntax for file replay speed) or `Nx`, as a factor of
/// the recorded pace (`50%` and `0.5x` are both 0.5). Between 0.1% and 100000%.
pub fn parse_speed(text: &str) -> Result<f64, String> {
    let bad = || format!("'{text}' is not a speed like 100%, 10% or 2x");
    let t = text.trim();
    let factor = if let Some(percent) = t.strip_suffix('%') {
        percent.trim().parse::<f64>().map_err(|_| bad())? / 100.0
    } else if let Some(times) = t.strip_suffix(['x', 'X']) {
        times.trim().parse::<f64>().map_err(|_| bad())?
    } else {
        return Err(bad());
    };
    if !factor.is_finite() || !(0.001..=1000.0).contains(&factor) {
        return Err(format!("'{text}' is outside 0.1% to 100000%"));
    }
    Ok(factor)
}

/// A speed factor as [`parse_speed`] reads it back (`0.5` → `50%`).
pub fn format_speed(factor: f64) -> String {
    format!("{}%", (factor * 100_000.0).round() / 1000.0)
}

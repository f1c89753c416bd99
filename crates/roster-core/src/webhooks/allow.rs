//! Which addresses deliveries may reach (`ROSTER_WEBHOOKS_ALLOW`): a
//! comma-separated list of CIDR ranges and the word `public` (every
//! address that is not loopback, private, link-local, shared, reserved,
//! multicast or documentation). The default is `public` alone, so a
//! subscription cannot make the server reach its own loopback or the
//! private network behind it (server-side request forgery) unless the
//! operator lists that range. The sender checks the address it actually
//! connects to, after resolution, so a name that resolves (or rebinds) to
//! a refused address is refused too.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::error::CoreError;

/// A parsed allow list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowList {
    public: bool,
    ranges: Vec<(IpAddr, u8)>,
}

impl Default for AllowList {
    /// Public addresses only.
    fn default() -> Self {
        Self { public: true, ranges: Vec::new() }
    }
}

impl AllowList {
    /// Parses `public` and CIDR ranges (`127.0.0.0/8`, `10.1.2.3`, `fd00::/8`),
    /// separated by commas. Errors name the entry at fault.
    pub fn parse(text: &str) -> Result<Self, CoreError> {
        let mut list = Self { public: false, ranges: Vec::new() };
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if entry.eq_ignore_ascii_case("public") {
                list.public = true;
                continue;
            }
            let bad =
                || CoreError::invalid("ROSTER_WEBHOOKS_ALLOW", format!("{entry:?} is not a CIDR range or \"public\""));
            let (addr, len) = match entry.split_once('/') {
                Some((a, l)) => (a, Some(l.parse::<u8>().map_err(|_| bad())?)),
                None => (entry, None),
            };
            let addr: IpAddr = addr.parse().map_err(|_| bad())?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let len = len.unwrap_or(max);
            if len > max {
                return Err(bad());
            }
            list.ranges.push((addr, len));
        }
        if !list.public && list.ranges.is_empty() {
            return Err(CoreError::invalid("ROSTER_WEBHOOKS_ALLOW", "names no range (use \"public\" for the default)"));
        }
        Ok(list)
    }

    /// Whether a delivery may connect to `addr`.
    pub fn allows(&self, addr: IpAddr) -> bool {
        let addr = canonical(addr);
        (self.public && is_public(addr)) || self.ranges.iter().any(|(net, len)| contains(*net, *len, addr))
    }
}

/// An IPv4 address written as IPv6 (`::ffff:127.0.0.1`) is that IPv4 address.
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(addr),
        v4 => v4,
    }
}

fn contains(net: IpAddr, len: u8, addr: IpAddr) -> bool {
    match (canonical(net), addr) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len)) };
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let mask = if len == 0 { 0 } else { u128::MAX << (128 - u32::from(len)) };
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

fn v4_in(a: Ipv4Addr, net: [u8; 4], len: u8) -> bool {
    contains(IpAddr::V4(Ipv4Addr::from(net)), len, IpAddr::V4(a))
}

/// A globally routable unicast address.
fn is_public(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(a) => {
            let special: [([u8; 4], u8); 15] = [
                ([0, 0, 0, 0], 8),
                ([10, 0, 0, 0], 8),
                ([100, 64, 0, 0], 10),
                ([127, 0, 0, 0], 8),
                ([169, 254, 0, 0], 16),
                ([172, 16, 0, 0], 12),
                ([192, 0, 0, 0], 24),
                ([192, 0, 2, 0], 24),
                ([192, 88, 99, 0], 24),
                ([192, 168, 0, 0], 16),
                ([198, 18, 0, 0], 15),
                ([198, 51, 100, 0], 24),
                ([203, 0, 113, 0], 24),
                ([224, 0, 0, 0], 4),
                ([240, 0, 0, 0], 4),
            ];
            !special.iter().any(|(net, len)| v4_in(a, *net, *len))
        }
        IpAddr::V6(a) => {
            let special: [(Ipv6Addr, u8); 9] = [
                (Ipv6Addr::UNSPECIFIED, 128),
                (Ipv6Addr::LOCALHOST, 128),
                (Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96),
                (Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0), 64),
                (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32),
                (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 23),
                (Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7),
                (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10),
                (Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8),
            ];
            !special.iter().any(|(net, len)| contains(IpAddr::V6(*net), *len, IpAddr::V6(a)))
        }
    }
}

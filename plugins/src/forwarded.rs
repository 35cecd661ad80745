//! The client's address behind trusted load balancers, from `X-Forwarded-For`.

use std::net::IpAddr;

use ipnet::IpNet;

/// The client's address: the TCP peer, unless the peer is a trusted proxy and the request
/// carries `X-Forwarded-For`; then the rightmost address in that header that is not itself
/// a trusted proxy. Entries left of an untrusted one could have been written by anyone,
/// so they are never used. An entry that is not an address stops the walk: the last
/// trusted hop before it is the client as far as anyone can tell.
pub fn client_ip(
    peer: Option<IpAddr>,
    forwarded_for: Option<&str>,
    trusted: &[IpNet],
) -> Option<IpAddr> {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(&ip.to_canonical()));
    let peer = peer?;
    let (Some(header), true) = (forwarded_for, is_trusted(&peer)) else {
        return Some(peer);
    };
    let mut client = peer;
    for entry in header.rsplit(',').map(str::trim) {
        // `[v6]:port` and `v4:port` forms appear in the wild; strip the port.
        let bare = entry
            .strip_prefix('[')
            .and_then(|e| e.split_once(']').map(|(ip, _)| ip))
            .unwrap_or_else(|| match entry.split_once(':') {
                Some((ip, port)) if !port.contains(':') => ip,
                _ => entry,
            });
        let Ok(ip) = bare.parse::<IpAddr>() else {
            break;
        };
        client = ip.to_canonical();
        if !is_trusted(&client) {
            break;
        }
    }
    Some(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn only_trusted_peers_are_believed() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap(), "fd00::/8".parse().unwrap()];
        // No trusted proxies, or an untrusted peer: the header is ignored.
        assert_eq!(
            client_ip(ip("10.1.1.1"), Some("203.0.113.7"), &[]),
            ip("10.1.1.1")
        );
        assert_eq!(
            client_ip(ip("198.51.100.9"), Some("203.0.113.7"), &trusted),
            ip("198.51.100.9")
        );
        // A trusted peer: the rightmost untrusted entry.
        assert_eq!(
            client_ip(ip("10.1.1.1"), Some("203.0.113.7"), &trusted),
            ip("203.0.113.7")
        );
        assert_eq!(
            client_ip(
                ip("10.1.1.1"),
                Some("1.2.3.4, 203.0.113.7, 10.9.9.9"),
                &trusted
            ),
            ip("203.0.113.7"),
            "a spoofed leftmost entry is never used"
        );
        assert_eq!(
            client_ip(ip("fd00::1"), Some("[2001:db8::5]:4711"), &trusted),
            ip("2001:db8::5")
        );
        assert_eq!(
            client_ip(ip("10.1.1.1"), Some("203.0.113.7:5555"), &trusted),
            ip("203.0.113.7")
        );
        assert_eq!(
            client_ip(ip("10.1.1.1"), Some("::ffff:203.0.113.7"), &trusted),
            ip("203.0.113.7")
        );
        // Garbage stops the walk at the last trusted hop; no header keeps the peer.
        assert_eq!(
            client_ip(ip("10.1.1.1"), Some("unknown, 10.2.2.2"), &trusted),
            ip("10.2.2.2")
        );
        assert_eq!(client_ip(ip("10.1.1.1"), None, &trusted), ip("10.1.1.1"));
        assert_eq!(client_ip(None, Some("203.0.113.7"), &trusted), None);
    }
}

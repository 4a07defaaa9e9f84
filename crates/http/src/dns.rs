//! A minimal DNS client for one job: reading TXT records to verify domain ownership
//! (`MS=ms12345678`). It asks the first `nameserver` in /etc/resolv.conf over UDP (RFC 1035).

use std::net::SocketAddr;
use std::time::Duration;

/// Errors of a lookup.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// No resolver configured.
    #[error("no nameserver in /etc/resolv.conf")]
    NoResolver,
    /// Network failure or timeout.
    #[error("DNS query failed: {0}")]
    Io(String),
    /// The answer could not be read.
    #[error("malformed DNS answer")]
    Malformed,
    /// The server answered with an error code (3 = no such domain).
    #[error("DNS error code {0}")]
    Rcode(u8),
}

fn resolver() -> Result<SocketAddr, DnsError> {
    let conf = std::fs::read_to_string("/etc/resolv.conf").map_err(|_| DnsError::NoResolver)?;
    conf.lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|ip| ip.trim().parse::<std::net::IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .next()
        .ok_or(DnsError::NoResolver)
}

/// Builds a TXT query for `name`.
pub fn query(id: u16, name: &str) -> Vec<u8> {
    let mut q = Vec::with_capacity(name.len() + 18);
    q.extend(id.to_be_bytes());
    q.extend([0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]); // RD; 1 question
    for label in name.trim_end_matches('.').split('.') {
        q.push(label.len().min(63) as u8);
        q.extend(&label.as_bytes()[..label.len().min(63)]);
    }
    q.push(0);
    q.extend([0, 16, 0, 1]); // TXT, IN
    q
}

fn skip_name(buf: &[u8], mut i: usize) -> Result<usize, DnsError> {
    loop {
        let len = *buf.get(i).ok_or(DnsError::Malformed)? as usize;
        if len & 0xC0 == 0xC0 {
            return Ok(i + 2);
        }
        if len == 0 {
            return Ok(i + 1);
        }
        i += 1 + len;
    }
}

fn u16_at(buf: &[u8], i: usize) -> Result<u16, DnsError> {
    Ok(u16::from_be_bytes([*buf.get(i).ok_or(DnsError::Malformed)?, *buf.get(i + 1).ok_or(DnsError::Malformed)?]))
}

/// Reads the TXT strings of an answer to query `id`.
pub fn parse_txt(buf: &[u8], id: u16) -> Result<Vec<String>, DnsError> {
    if buf.len() < 12 || u16_at(buf, 0)? != id {
        return Err(DnsError::Malformed);
    }
    let rcode = buf[3] & 0x0F;
    if rcode != 0 {
        return Err(DnsError::Rcode(rcode));
    }
    let qd = u16_at(buf, 4)?;
    let an = u16_at(buf, 6)?;
    let mut i = 12;
    for _ in 0..qd {
        i = skip_name(buf, i)? + 4;
    }
    let mut out = vec![];
    for _ in 0..an {
        i = skip_name(buf, i)?;
        let rtype = u16_at(buf, i)?;
        let rdlen = u16_at(buf, i + 8)? as usize;
        let start = i + 10;
        let end = start + rdlen;
        if end > buf.len() {
            return Err(DnsError::Malformed);
        }
        if rtype == 16 {
            let mut j = start;
            let mut text = String::new();
            while j < end {
                let l = buf[j] as usize;
                let s = buf.get(j + 1..j + 1 + l).ok_or(DnsError::Malformed)?;
                text.push_str(&String::from_utf8_lossy(s));
                j += 1 + l;
            }
            out.push(text);
        }
        i = end;
    }
    Ok(out)
}

/// The TXT records of `name`.
pub async fn txt_records(name: &str) -> Result<Vec<String>, DnsError> {
    let server = resolver()?;
    let bind: SocketAddr =
        if server.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }.parse().map_err(|_| DnsError::NoResolver)?;
    let sock = tokio::net::UdpSocket::bind(bind).await.map_err(|e| DnsError::Io(e.to_string()))?;
    let id = u16::from_be_bytes(portico_core::secret::random_token(2).as_bytes()[..2].try_into().unwrap_or([7, 7]));
    sock.send_to(&query(id, name), server).await.map_err(|e| DnsError::Io(e.to_string()))?;
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(3), sock.recv(&mut buf))
        .await
        .map_err(|_| DnsError::Io("timed out".into()))?
        .map_err(|e| DnsError::Io(e.to_string()))?;
    parse_txt(&buf[..n], id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_txt_answer_is_read() {
        let mut resp = query(0x1234, "contoso.test");
        resp[2] = 0x81;
        resp[3] = 0x80;
        resp[7] = 2; // two answers
        for txt in ["MS=ms123", "v=spf1 -all"] {
            resp.extend([0xC0, 12, 0, 16, 0, 1, 0, 0, 0, 60]);
            resp.extend(((txt.len() + 1) as u16).to_be_bytes());
            resp.push(txt.len() as u8);
            resp.extend(txt.as_bytes());
        }
        assert_eq!(parse_txt(&resp, 0x1234).unwrap(), vec!["MS=ms123".to_string(), "v=spf1 -all".to_string()]);
        assert!(parse_txt(&resp, 0x9999).is_err());
        assert!(parse_txt(&resp[..resp.len() - 3], 0x1234).is_err());
        let mut nx = query(1, "x.test");
        nx[3] = 0x83;
        assert!(matches!(parse_txt(&nx, 1), Err(DnsError::Rcode(3))));
    }
}

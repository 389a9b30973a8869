//! The live path on frames that are not addressed to us: a veth pair (MTU 65535) made by the
//! test, `replayer -input-raw VETH_B:80` capturing on one end, and `tcpreplay` putting a pcap of
//! foreign traffic (documentation addresses: plain, 802.1Q-tagged, in a PPPoE session and in
//! a VXLAN tunnel) onto the other end. The capture must not filter on the interface's own
//! addresses, and the default BPF filter must let every encapsulation the decoder reads
//! through. Needs root; the frames never leave the veth pair.

use crate::util::tcp_flags::{ACK, SYN};
use crate::util::*;
use std::net::SocketAddrV4;
use std::process::Command;
use std::time::Duration;

/// A veth pair, deleted when dropped.
struct Veth {
    a: String,
    b: String,
}

impl Veth {
    fn create() -> Veth {
        let n = std::process::id() % 100_000;
        let veth = Veth {
            a: format!("rpa{n}"),
            b: format!("rpb{n}"),
        };
        let ip = require_tool("ip");
        let _ = Command::new(&ip).args(["link", "del", &veth.a]).output();
        for args in [
            vec![
                "link", "add", &veth.a, "type", "veth", "peer", "name", &veth.b,
            ],
            vec!["link", "set", &veth.a, "mtu", "65535", "up"],
            vec!["link", "set", &veth.b, "mtu", "65535", "up"],
        ] {
            let out = Command::new(&ip).args(&args).output().expect("ip");
            assert!(
                out.status.success(),
                "ip {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        veth
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.a]).output();
    }
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: shop.example\r\n\r\n").into_bytes()
}

/// Inserts an 802.1Q tag (VLAN 42) after the MAC addresses.
fn tagged(frame: Vec<u8>) -> Vec<u8> {
    [&frame[..12], &[0x81, 0x00, 0x00, 42], &frame[12..]].concat()
}

#[test]
fn live_capture_sees_foreign_vlan_pppoe_and_vxlan_traffic_on_a_veth() {
    let _processes = lock::processes();
    assert!(
        is_root(),
        "creating a veth pair and capturing on it needs root"
    );
    let tcpreplay = require_tool("tcpreplay");
    let dir = Scratch::new("veth");
    let veth = Veth::create();

    let client: SocketAddrV4 = "192.0.2.10:51000".parse().unwrap();
    let vlan_client: SocketAddrV4 = "192.0.2.11:51001".parse().unwrap();
    let server: SocketAddrV4 = "198.51.100.20:80".parse().unwrap();
    let mut pcap = PcapBuilder::new(1);
    pcap.frame(&eth_ipv4_tcp(client, server, 10, 0, SYN, b""));
    let stream = [get("/plain/1"), get("/plain/2"), get("/plain/3")].concat();
    // Out of order on purpose: the second half first.
    let half = stream.len() / 2;
    pcap.frame(&eth_ipv4_tcp(
        client,
        server,
        11 + half as u32,
        1,
        ACK,
        &stream[half..],
    ));
    pcap.frame(&eth_ipv4_tcp(client, server, 11, 1, ACK, &stream[..half]));
    pcap.frame(&tagged(eth_ipv4_tcp(vlan_client, server, 500, 0, SYN, b"")));
    pcap.frame(&tagged(eth_ipv4_tcp(
        vlan_client,
        server,
        501,
        1,
        ACK,
        &get("/vlan/1"),
    )));
    let pppoe_client: SocketAddrV4 = "192.0.2.12:51002".parse().unwrap();
    let pppoe = |f: Vec<u8>| pppoe_session(&f[..12], 0x0021, &f[14..]);
    pcap.frame(&pppoe(eth_ipv4_tcp(pppoe_client, server, 700, 0, SYN, b"")));
    pcap.frame(&pppoe(eth_ipv4_tcp(
        pppoe_client,
        server,
        701,
        1,
        ACK,
        &get("/pppoe/1"),
    )));
    let vxlan_client: SocketAddrV4 = "192.0.2.13:51003".parse().unwrap();
    let (vtep_a, vtep_b) = (
        "203.0.113.1".parse().unwrap(),
        "203.0.113.2".parse().unwrap(),
    );
    pcap.frame(&vxlan(
        vtep_a,
        vtep_b,
        &eth_ipv4_tcp(vxlan_client, server, 900, 0, SYN, b""),
    ));
    pcap.frame(&vxlan(
        vtep_a,
        vtep_b,
        &eth_ipv4_tcp(vxlan_client, server, 901, 1, ACK, &get("/vxlan/1")),
    ));
    // The same encapsulations to another port: the filter keeps them out (nothing to see).
    let elsewhere: SocketAddrV4 = "198.51.100.20:8080".parse().unwrap();
    pcap.frame(&pppoe(eth_ipv4_tcp(
        pppoe_client,
        elsewhere,
        5,
        1,
        ACK,
        &get("/no"),
    )));
    pcap.frame(&vxlan(
        vtep_a,
        vtep_b,
        &eth_ipv4_tcp(vxlan_client, elsewhere, 5, 1, ACK, &get("/no")),
    ));
    let file = dir.join("foreign.pcap");
    pcap.write(&file);

    let replayer = LiveReplayer::start(&format!("{}:80", veth.b));
    let out = run_with_timeout(
        Command::new(&tcpreplay).arg("-i").arg(&veth.a).arg(&file),
        Duration::from_secs(20),
    );
    assert!(
        out.status.success(),
        "tcpreplay: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (records, stderr) = replayer.stop();
    let mut got: Vec<String> = records.iter().map(Record::request_line).collect();
    got.sort();
    assert_eq!(
        got,
        [
            "GET /plain/1",
            "GET /plain/2",
            "GET /plain/3",
            "GET /pppoe/1",
            "GET /vlan/1",
            "GET /vxlan/1"
        ],
        "stderr: {stderr}"
    );
}
